# pipeline: PGXS build, plus the project's front door (test, demo, bench,
# test-matrix).  The PGXS part is only included once pg_config can name it,
# so `make test` and `make demo` work on a machine without the server headers:
# they install what is missing first, then re-enter make.

EXTENSION    = pipeline
# The version has one source, META.json ("version": "1.1.0" -> 1.1); the
# control file, the C library's magic block and the docs follow it.
EXTVERSION  := $(shell sed -n 's/^   "version": "\([0-9]*\.[0-9]*\)\.[0-9]*",$$/\1/p' $(dir $(lastword $(MAKEFILE_LIST)))META.json)
MODULE_big   = pipeline
OBJS         = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
# The reference pages; PGXS installs them (into $(docdir)/extension/pipeline, below).
DOCS         = $(wildcard docs/*.md)

# SQL scripts, assembled from one fragment per capability (sql/<version>/
# NN_name.sql, applied in name order):
#   pipeline--1.0.sql       the 1.0 install script (frozen: sql/1.0/)
#   pipeline--1.0--1.1.sql  the upgrade from 1.0 (sql/1.1/)
#   pipeline--1.1.sql       a new install: the 1.0 script, then the upgrade,
#                           so that a new 1.1 and an upgraded 1.0 are the
#                           same by construction
INSTALL_10   = sql/$(EXTENSION)--1.0.sql
UPGRADE_11   = sql/$(EXTENSION)--1.0--1.1.sql
INSTALL_11   = sql/$(EXTENSION)--1.1.sql
DATA_built   = $(INSTALL_10) $(UPGRADE_11) $(INSTALL_11)

# pg_regress reads test/sql/*.sql and compares with test/expected/*.out.
REGRESS      = $(sort $(notdir $(basename $(wildcard test/sql/*.sql))))
REGRESS_OPTS = --inputdir=test --load-extension=plpgsql
ISOLATION    = $(sort $(notdir $(basename $(wildcard test/specs/*.spec))))
# pg_isolation_regress writes into output_iso/ and reads test/expected too
ISOLATION_OPTS = --inputdir=test

PG_CPPFLAGS  = -I$(srcdir)/src -DPIPELINE_VERSION='"$(EXTVERSION)"'
PG_CFLAGS    = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare
ifdef WERROR
PG_CFLAGS   += -Werror
endif

# Track header dependencies, so a changed header rebuilds what includes it.
PG_CFLAGS   += -MMD -MP
EXTRA_CLEAN  = $(OBJS:.o=.d) $(EXTENSION).control
-include $(OBJS:.o=.d)

PG_CONFIG   ?= pg_config
PGXS        := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)

.DEFAULT_GOAL := all

ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
# The reference pages go to $(docdir)/extension/pipeline/, not flat into
# $(docdir)/extension/ where every extension's README.md and views.md meet.
docmoduledir := extension/$(EXTENSION)
else
all install installcheck:
	@echo "pg_config/PGXS not found: run 'make test' (installs postgresql-server-dev) or set PG_CONFIG" >&2; exit 1
endif

all: $(EXTENSION).control
$(EXTENSION).control: $(EXTENSION).control.in META.json
	sed 's/@EXTVERSION@/$(EXTVERSION)/' $< > $@

# the magic block names the version: rebuild when it changes
src/pipeline.o: META.json

$(INSTALL_10): $(sort $(wildcard sql/1.0/*.sql))
	cat $^ > $@

# sql/1.1/00_header.sql starts with the upgrade script's \echo guard line.
$(UPGRADE_11): $(sort $(wildcard sql/1.1/*.sql))
	cat $^ > $@

$(INSTALL_11): $(INSTALL_10) $(UPGRADE_11)
	{ cat $(INSTALL_10); tail -n +2 $(UPGRADE_11); } > $@

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

# The distributed cases on a real Citus cluster (coordinator + 2 workers on
# private ports) from the Citus installed in PG_CONFIG's PostgreSQL; skipped
# when there is none.  Not part of `make test` (CI has no Citus).
.PHONY: test-citus bench-citus
test-citus: deps
	@tools/run-citus-tests.sh

bench-citus: deps
	@tools/run-citus-tests.sh --bench
