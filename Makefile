# pipeline: PGXS build, plus the project's front door (test, demo, bench,
# test-matrix).  The PGXS part is only included once pg_config can name it,
# so `make test` and `make demo` work on a machine without the server headers:
# they install what is missing first, then re-enter make.

EXTENSION    = pipeline
EXTVERSION   = 1.0
MODULE_big   = pipeline
OBJS         = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
# The reference pages; PGXS installs them into $(docdir)/extension.
DOCS         = $(wildcard docs/*.md)

# The install script is assembled from one fragment per capability
# (sql/1.0/NN_name.sql, applied in name order).
PIPELINE_SQL = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA_built   = $(PIPELINE_SQL)
DATA         = $(filter-out $(PIPELINE_SQL),$(wildcard sql/$(EXTENSION)--*--*.sql))

# pg_regress reads test/sql/*.sql, compares with ./expected/*.out.
REGRESS      = $(sort $(notdir $(basename $(wildcard test/sql/*.sql))))
REGRESS_OPTS = --inputdir=test --load-extension=plpgsql
ISOLATION    = $(sort $(notdir $(basename $(wildcard test/specs/*.spec))))
# isolation writes next to pg_regress so both read ./expected
ISOLATION_OPTS = --inputdir=test --outputdir=.

PG_CPPFLAGS  = -I$(srcdir)/src
PG_CFLAGS    = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare
ifdef WERROR
PG_CFLAGS   += -Werror
endif

# Track header dependencies, so a changed header rebuilds what includes it.
PG_CFLAGS   += -MMD -MP
EXTRA_CLEAN  = $(OBJS:.o=.d)
-include $(OBJS:.o=.d)

PG_CONFIG   ?= pg_config
PGXS        := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)

.DEFAULT_GOAL := all

ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
else
all install installcheck:
	@echo "pg_config/PGXS not found: run 'make test' (installs postgresql-server-dev) or set PG_CONFIG" >&2; exit 1
endif

$(PIPELINE_SQL): $(sort $(wildcard sql/$(EXTVERSION)/*.sql))
	cat $^ > $@

# ---------------------------------------------------------------------------
# Front door.  Each target installs what is missing (apt, as root or via
# sudo), builds, installs and runs against a throwaway cluster.
# ---------------------------------------------------------------------------
.PHONY: deps test demo bench stress test-matrix

deps:
	@tools/install-deps.sh

test: deps
	@tools/run-tests.sh

demo: deps
	@tools/run-demo.sh

bench: deps
	@tools/run-bench.sh

stress: deps
	@tools/run-stress.sh

test-matrix:
	@tools/test-matrix.sh $(VERSIONS)
