/* pipeline 1.0: enforced stage transitions -- triggers, rulesets API, attach/detach, history */

-- ---------------------------------------------------------------------------
-- Trigger functions (C).  pipeline.attach() installs them; see
-- docs/transitions.md for what each trigger does and why it fires when it
-- does.
-- ---------------------------------------------------------------------------

-- args (stage_column [, ruleset]); BEFORE UPDATE and AFTER INSERT, FOR EACH ROW
CREATE FUNCTION pipeline.enforce_transition() RETURNS trigger
	AS 'MODULE_PATHNAME', 'pipeline_enforce_transition'
	LANGUAGE C;

-- args (stage_column, history_table); AFTER INSERT and AFTER UPDATE, FOR EACH ROW
CREATE FUNCTION pipeline.record_transition() RETURNS trigger
	AS 'MODULE_PATHNAME', 'pipeline_record_transition'
	LANGUAGE C;

-- ---------------------------------------------------------------------------
-- Asking the rules (C, from the same cache the triggers use).
-- ---------------------------------------------------------------------------

CREATE FUNCTION pipeline.can_transition(from_stage anyenum, to_stage anyenum,
										ruleset text DEFAULT 'strict')
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'pipeline_can_transition'
	LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION pipeline.next_stages(from_stage anyenum, ruleset text DEFAULT 'strict')
	RETURNS anyarray
	AS 'MODULE_PATHNAME', 'pipeline_next_stages'
	LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION pipeline._transition_rules(OUT stage_type text, OUT ruleset text,
										   OUT from_stage text, OUT to_stage text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'pipeline_transition_rules'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 200;

-- 'builtin', 'custom' or NULL (unknown ruleset); errors for unregistered types
CREATE FUNCTION pipeline._ruleset_kind(stage_type regtype, ruleset text)
	RETURNS text
	AS 'MODULE_PATHNAME', 'pipeline_ruleset_kind'
	LANGUAGE C STABLE PARALLEL SAFE;

-- pg_trigger.tgargs as text[]
CREATE FUNCTION pipeline._trigger_args(tgargs bytea)
	RETURNS text[]
	AS 'MODULE_PATHNAME', 'pipeline_trigger_args'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Every allowed transition of every ruleset, built-in ones included.
CREATE VIEW pipeline.transition_rules AS
	SELECT r.stage_type, r.ruleset, r.from_stage, r.to_stage
	  FROM pipeline._transition_rules() AS r;

-- ---------------------------------------------------------------------------
-- Editing custom rulesets.  SECURITY INVOKER: the config tables are writable
-- only by the extension owner (and superusers), so only they can edit.
-- ---------------------------------------------------------------------------

-- format('%I.%I') name of a type, whatever the caller's search_path
CREATE FUNCTION pipeline._type_name(stage_type regtype) RETURNS text
	LANGUAGE sql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
		SELECT format('%I.%I', n.nspname, t.typname)
		  FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
		 WHERE t.oid = $1
	$$;

-- Checks shared by the editing functions: the caller may edit rules, the
-- type is registered (42704/42809 from C), the ruleset exists (42704) and is
-- not built in.
CREATE FUNCTION pipeline._check_editable(stage_type regtype, ruleset text, action text) RETURNS void
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	DECLARE
		kind text;
	BEGIN
		IF stage_type IS NULL OR ruleset IS NULL THEN
			RAISE EXCEPTION 'stage_type and ruleset must not be NULL' USING ERRCODE = '22004';
		END IF;
		kind := pipeline._ruleset_kind(stage_type, ruleset);
		IF kind IS NULL THEN
			RAISE EXCEPTION 'ruleset "%" does not exist for stage type %', ruleset, pipeline._type_name(stage_type)
				USING ERRCODE = '42704',
					  HINT = 'Create it with pipeline.copy_ruleset(); pipeline.transition_rules lists the rulesets.';
		ELSIF kind = 'builtin' THEN
			RAISE EXCEPTION 'cannot % built-in ruleset "%"', action, ruleset
				USING ERRCODE = '42501',
					  DETAIL = 'The built-in rulesets strict and lenient are computed from the stage metadata and are read-only.',
					  HINT = format('Copy it and edit the copy: SELECT pipeline.copy_ruleset(%L, %L, %L);',
									pipeline._type_name(stage_type), ruleset, 'my_' || ruleset);
		END IF;
		IF NOT pg_catalog.has_table_privilege('pipeline.ruleset_edges', 'INSERT, DELETE') THEN
			RAISE EXCEPTION 'permission denied to % ruleset "%"', action, ruleset
				USING ERRCODE = '42501',
					  DETAIL = 'Only the owner of extension pipeline and superusers edit rulesets.';
		END IF;
	END
	$$;

CREATE FUNCTION pipeline.copy_ruleset(stage_type regtype, source text, target text) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
	DECLARE
		source_kind text;
		target_kind text;
	BEGIN
		IF stage_type IS NULL OR source IS NULL OR target IS NULL THEN
			RAISE EXCEPTION 'arguments of pipeline.copy_ruleset() must not be NULL' USING ERRCODE = '22004';
		END IF;
		source_kind := pipeline._ruleset_kind(stage_type, source);
		IF source_kind IS NULL THEN
			RAISE EXCEPTION 'ruleset "%" does not exist for stage type %', source, pipeline._type_name(stage_type)
				USING ERRCODE = '42704',
					  HINT = 'The built-in rulesets are strict and lenient; pipeline.transition_rules lists the others.';
		END IF;
		target_kind := pipeline._ruleset_kind(stage_type, target);
		IF target_kind = 'builtin' THEN
			RAISE EXCEPTION 'cannot copy onto built-in ruleset "%"', target
				USING ERRCODE = '42501',
					  HINT = 'Give the copy another name.';
		ELSIF target_kind = 'custom' THEN
			RAISE EXCEPTION 'ruleset "%" already exists for stage type %', target, pipeline._type_name(stage_type)
				USING ERRCODE = '42710',
					  HINT = 'Edit it with pipeline.allow_transition() and pipeline.forbid_transition(), or drop it first with pipeline.drop_ruleset().';
		ELSIF target = '' THEN
			RAISE EXCEPTION 'a ruleset name must not be empty' USING ERRCODE = '22023';
		END IF;
		IF NOT pg_catalog.has_table_privilege('pipeline.ruleset_edges', 'INSERT') THEN
			RAISE EXCEPTION 'permission denied to create ruleset "%"', target
				USING ERRCODE = '42501',
					  DETAIL = 'Only the owner of extension pipeline and superusers edit rulesets.';
		END IF;

		INSERT INTO pipeline.rulesets (stage_type, ruleset) VALUES (stage_type, target);
		INSERT INTO pipeline.ruleset_edges (stage_type, ruleset, from_stage, to_stage)
			SELECT copy_ruleset.stage_type, target, r.from_stage, r.to_stage
			  FROM pipeline._transition_rules() r
			 WHERE r.stage_type = pipeline._type_name(copy_ruleset.stage_type)
			   AND r.ruleset = source;
	END
	$$;

-- The checks allow_transition and forbid_transition share: an editable
-- (custom) ruleset, a target stage, and labels the type has.
CREATE FUNCTION pipeline._check_edge(stage_type regtype, ruleset text, from_stage text, to_stage text)
	RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
	BEGIN
		PERFORM pipeline._check_editable(stage_type, ruleset, 'edit');
		IF to_stage IS NULL THEN
			RAISE EXCEPTION 'to_stage must not be NULL'
				USING ERRCODE = '22004', HINT = 'A NULL from_stage means creation; every transition has a target stage.';
		END IF;
		IF from_stage IS NOT NULL THEN
			PERFORM pipeline._require_label(stage_type, from_stage);
		END IF;
		PERFORM pipeline._require_label(stage_type, to_stage);
	END
	$$;

CREATE FUNCTION pipeline.allow_transition(stage_type regtype, ruleset text, from_stage text, to_stage text)
	RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
	BEGIN
		PERFORM pipeline._check_edge(stage_type, ruleset, from_stage, to_stage);
		IF from_stage = to_stage THEN
			RAISE EXCEPTION 'a same-stage update is not a transition'
				USING ERRCODE = '22023', DETAIL = 'Updates that keep the stage are always allowed.';
		END IF;
		INSERT INTO pipeline.ruleset_edges AS e (stage_type, ruleset, from_stage, to_stage)
			VALUES (allow_transition.stage_type, allow_transition.ruleset,
					allow_transition.from_stage, allow_transition.to_stage)
			ON CONFLICT DO NOTHING;
	END
	$$;

CREATE FUNCTION pipeline.forbid_transition(stage_type regtype, ruleset text, from_stage text, to_stage text)
	RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
	BEGIN
		PERFORM pipeline._check_edge(stage_type, ruleset, from_stage, to_stage);
		DELETE FROM pipeline.ruleset_edges e
		 WHERE e.stage_type = forbid_transition.stage_type
		   AND e.ruleset = forbid_transition.ruleset
		   AND e.from_stage IS NOT DISTINCT FROM forbid_transition.from_stage
		   AND e.to_stage = forbid_transition.to_stage;
	END
	$$;

-- Tables whose enforcing trigger uses (stage_type, ruleset).
CREATE FUNCTION pipeline._ruleset_users(stage_type regtype, ruleset text) RETURNS SETOF regclass
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
		SELECT DISTINCT t.tgrelid::pg_catalog.regclass
		  FROM pg_catalog.pg_trigger t
		  CROSS JOIN LATERAL (SELECT pipeline._trigger_args(t.tgargs) AS args) a
		  JOIN pg_catalog.pg_attribute att
			ON att.attrelid = t.tgrelid AND att.attname = a.args[1] AND NOT att.attisdropped
		 WHERE t.tgfoid = 'pipeline.enforce_transition()'::pg_catalog.regprocedure
		   AND t.tgparentid = 0
		   AND att.atttypid = $1
		   AND coalesce(a.args[2], 'strict') = $2
	$$;

CREATE FUNCTION pipeline.drop_ruleset(stage_type regtype, ruleset text) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
	DECLARE
		users text;
	BEGIN
		PERFORM pipeline._check_editable(stage_type, ruleset, 'drop');
		-- serialize with concurrent attach/drop of the same ruleset
		LOCK TABLE pipeline.rulesets IN SHARE ROW EXCLUSIVE MODE;
		SELECT string_agg(u::text, ', ' ORDER BY u::text) INTO users
		  FROM pipeline._ruleset_users(stage_type, ruleset) AS u;
		IF users IS NOT NULL THEN
			RAISE EXCEPTION 'ruleset "%" of % is in use', ruleset, pipeline._type_name(stage_type)
				USING ERRCODE = '55006',
					  DETAIL = format('Used by: %s.', users),
					  HINT = 'Switch those tables to another ruleset with pipeline.attach(), or detach them.';
		END IF;
		DELETE FROM pipeline.rulesets r
		 WHERE r.stage_type = drop_ruleset.stage_type AND r.ruleset = drop_ruleset.ruleset;
	END
	$$;

-- ---------------------------------------------------------------------------
-- attach / detach.  SECURITY INVOKER: the caller must be able to own the
-- table (member of its owner role); every name is quoted and qualified.
-- ---------------------------------------------------------------------------

CREATE FUNCTION pipeline.attach(target regclass, stage_column name DEFAULT 'stage',
								ruleset text DEFAULT 'strict', track_history boolean DEFAULT true)
	RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $fn$
	DECLARE
		rel record;
		col record;
		kind text;
		keycols name[];
		keydefs text;
		keylist text;
		keymatch text;
		keyorder text;
		clash name;
		prefix text;
		hist_name text;
		hist_qual text;
		hist_oid oid;
		qual text;
		stage_type_name text;
		trg_enforce text;
		trg_enforce_insert text;
		trg_history text;
		trg_history_insert text;
		n text;
		g record;
		other record;
		is_citus boolean := false;
	BEGIN
		IF target IS NULL OR stage_column IS NULL OR ruleset IS NULL OR track_history IS NULL THEN
			RAISE EXCEPTION 'arguments of pipeline.attach() must not be NULL' USING ERRCODE = '22004';
		END IF;

		SELECT c.relname, n.nspname, c.relkind, c.relowner, c.relacl,
			   pg_catalog.pg_get_userbyid(c.relowner) AS owner_name
		  INTO rel
		  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		 WHERE c.oid = target;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'relation with OID % does not exist', target::oid USING ERRCODE = '42P01';
		END IF;
		qual := format('%I.%I', rel.nspname, rel.relname);
		IF rel.relkind NOT IN ('r', 'p') THEN
			RAISE EXCEPTION '"%" is not a table', qual
				USING ERRCODE = '42809', DETAIL = 'A pipeline attaches to a table or a partitioned table.';
		END IF;

		IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
			EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition WHERE logicalrelid = $1)'
			   INTO is_citus USING target;
			IF is_citus THEN
				RAISE EXCEPTION 'cannot attach a pipeline to Citus distributed table %', qual
					USING ERRCODE = '0A000',
						  DETAIL = 'Distributed tables are not supported yet.',
						  HINT = 'Attach before distributing is not supported either; keep the table local (or a reference table).';
			END IF;
		END IF;

		IF NOT pg_catalog.pg_has_role(current_user, rel.relowner, 'USAGE') THEN
			RAISE EXCEPTION 'must be owner of table %', qual USING ERRCODE = '42501';
		END IF;

		-- Writers wait for attach (and attach for them): rows written before
		-- it commits get their creation row below, rows written after it go
		-- through the triggers.
		EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', qual);

		SELECT a.attnum, a.atttypid, t.typtype INTO col
		  FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
		 WHERE a.attrelid = target AND a.attname = stage_column AND a.attnum > 0 AND NOT a.attisdropped;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'column "%" of table % does not exist', stage_column, qual
				USING ERRCODE = '42703';
		END IF;
		IF col.typtype <> 'e' THEN
			RAISE EXCEPTION 'column "%" of table % has type %, which is not an enum', stage_column, qual,
					pg_catalog.format_type(col.atttypid, NULL)
				USING ERRCODE = '42809',
					  HINT = 'A stage column has a registered enum type, such as pipeline.stage (see pipeline.define_stages()).';
		END IF;
		stage_type_name := pg_catalog.format_type(col.atttypid, NULL);

		kind := pipeline._ruleset_kind(col.atttypid, ruleset);	-- 42704 when unregistered
		IF kind IS NULL THEN
			RAISE EXCEPTION 'ruleset "%" does not exist for stage type %', ruleset, stage_type_name
				USING ERRCODE = '42704',
					  HINT = 'The built-in rulesets are strict and lenient; pipeline.transition_rules lists the others.';
		END IF;

		SELECT array_agg(a.attname ORDER BY k.ord),
			   string_agg(format('%I %s%s NOT NULL', a.attname,
								 pg_catalog.format_type(a.atttypid, a.atttypmod),
								 CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0
									  THEN (SELECT format(' COLLATE %I.%I', cn.nspname, co.collname)
											  FROM pg_catalog.pg_collation co
											  JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
											 WHERE co.oid = a.attcollation)
									  ELSE '' END), ', ' ORDER BY k.ord),
			   string_agg(format('%I', a.attname), ', ' ORDER BY k.ord),
			   string_agg(format('h.%1$I OPERATOR(%2$I.%3$s) t.%1$I', a.attname, eqn.nspname, eq.oprname),
						  ' AND ' ORDER BY k.ord),
			   string_agg(format('t.%1$I USING OPERATOR(%2$I.%3$s)', a.attname, ltn.nspname, lt.oprname),
						  ', ' ORDER BY k.ord)
		  INTO keycols, keydefs, keylist, keymatch, keyorder
		  FROM pg_catalog.pg_constraint c
		 CROSS JOIN LATERAL pg_catalog.unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
		  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
		  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
		  -- compare and sort keys with the primary key's own btree operators,
		  -- named with their schema: a key type whose operators live outside
		  -- pg_catalog (ltree, citext, ...) works, and no search_path applies
		  JOIN pg_catalog.pg_index i ON i.indexrelid = c.conindid
		  JOIN pg_catalog.pg_opclass opc ON opc.oid = i.indclass[k.ord::integer - 1]
		  JOIN pg_catalog.pg_amop eqa ON eqa.amopfamily = opc.opcfamily AND eqa.amopstrategy = 3
								   AND eqa.amoplefttype = opc.opcintype AND eqa.amoprighttype = opc.opcintype
		  JOIN pg_catalog.pg_operator eq ON eq.oid = eqa.amopopr
		  JOIN pg_catalog.pg_namespace eqn ON eqn.oid = eq.oprnamespace
		  JOIN pg_catalog.pg_amop lta ON lta.amopfamily = opc.opcfamily AND lta.amopstrategy = 1
								   AND lta.amoplefttype = opc.opcintype AND lta.amoprighttype = opc.opcintype
		  JOIN pg_catalog.pg_operator lt ON lt.oid = lta.amopopr
		  JOIN pg_catalog.pg_namespace ltn ON ltn.oid = lt.oprnamespace
		 WHERE c.conrelid = target AND c.contype = 'p';
		IF keycols IS NULL THEN
			RAISE EXCEPTION 'table % has no primary key', qual
				USING ERRCODE = '55000',
					  DETAIL = 'Stage history and moves between partitions identify rows by their primary key.',
					  HINT = 'Add a primary key, then run pipeline.attach() again.';
		END IF;

		-- Names: <target>_<suffix>, or <target>_<column>_<suffix>.
		prefix := rel.relname || '_' || CASE WHEN stage_column = 'stage' THEN '' ELSE stage_column || '_' END;
		hist_name := prefix || 'stage_history';
		hist_qual := format('%I.%I', rel.nspname, hist_name);
		trg_enforce := 'zz_pipeline_enforce_' || stage_column;
		trg_enforce_insert := 'zz_pipeline_enforce_insert_' || stage_column;
		trg_history := 'zz_pipeline_history_' || stage_column;
		trg_history_insert := 'zz_pipeline_history_insert_' || stage_column;
		FOREACH n IN ARRAY ARRAY[trg_enforce, trg_enforce_insert, trg_history, trg_history_insert]
			|| CASE WHEN track_history
					THEN ARRAY[hist_name, prefix || 'stage_visits', prefix || 'stage_durations',
							   prefix || 'funnel', prefix || 'rotting']
					ELSE '{}'::text[] END
		LOOP
			IF pg_catalog.octet_length(n) > 63 THEN
				RAISE EXCEPTION 'name "%" that pipeline.attach() would create for table % is longer than 63 bytes', n, qual
					USING ERRCODE = '42622',
						  HINT = 'Use a shorter table or column name.';
			END IF;
		END LOOP;

		IF track_history THEN
			SELECT k INTO clash FROM pg_catalog.unnest(keycols) AS k
			 WHERE k IN ('from_stage', 'to_stage', 'changed_at', 'changed_by', 'seq') LIMIT 1;
			IF clash IS NOT NULL THEN
				RAISE EXCEPTION 'primary key column "%" of table % has the name of a stage history column', clash, qual
					USING ERRCODE = '42701',
						  DETAIL = 'The history table holds the key columns next to from_stage, to_stage, changed_at, changed_by and seq.',
						  HINT = 'Rename the key column, or attach with track_history => false.';
			END IF;
		END IF;

		-- A trigger of ours may be replaced; anybody else's may not.
		SELECT t.tgname, t.tgfoid::pg_catalog.regprocedure AS func INTO other
		  FROM pg_catalog.pg_trigger t
		 WHERE t.tgrelid = target
		   AND t.tgname IN (trg_enforce, trg_enforce_insert, trg_history, trg_history_insert)
		   AND t.tgfoid NOT IN ('pipeline.enforce_transition()'::pg_catalog.regprocedure,
								'pipeline.record_transition()'::pg_catalog.regprocedure)
		 LIMIT 1;
		IF FOUND THEN
			RAISE EXCEPTION 'trigger "%" for table % already exists and calls %', other.tgname, qual, other.func
				USING ERRCODE = '42710', HINT = 'Rename or drop that trigger first.';
		END IF;

		-- Re-running attach replaces our triggers (switching ruleset or
		-- history tracking) in this transaction.
		FOR n IN
			SELECT t.tgname FROM pg_catalog.pg_trigger t
			 WHERE t.tgrelid = target
			   AND t.tgname IN (trg_enforce, trg_enforce_insert, trg_history, trg_history_insert)
		LOOP
			EXECUTE format('DROP TRIGGER %I ON %s', n, qual);
		END LOOP;

		EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON %s FOR EACH ROW '
					   'EXECUTE FUNCTION pipeline.enforce_transition(%L, %L)',
					   trg_enforce, qual, stage_column, ruleset);
		EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s FOR EACH ROW '
					   'EXECUTE FUNCTION pipeline.enforce_transition(%L, %L)',
					   trg_enforce_insert, qual, stage_column, ruleset);

		IF NOT track_history THEN
			IF pg_catalog.to_regprocedure('pipeline._drop_history_views(regclass,name)') IS NOT NULL THEN
				EXECUTE 'SELECT pipeline._drop_history_views($1, $2)' USING target, stage_column;
			END IF;
			RETURN;
		END IF;

		hist_oid := pg_catalog.to_regclass(hist_qual);
		IF hist_oid IS NULL THEN
			EXECUTE format('CREATE TABLE %s (%s, from_stage %s, to_stage %s NOT NULL, '
						   'changed_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(), '
						   'changed_by name NOT NULL DEFAULT CURRENT_USER, '
						   'seq bigint GENERATED ALWAYS AS IDENTITY NOT NULL)',
						   hist_qual, keydefs, stage_type_name, stage_type_name);
			EXECUTE format('COMMENT ON TABLE %s IS %L', hist_qual,
						   format('Stage history of %s.%s, written by pipeline.record_transition().',
								  qual, stage_column));
			EXECUTE format('CREATE INDEX ON %s (%s, seq)', hist_qual, keylist);
			hist_oid := hist_qual::pg_catalog.regclass;
		ELSE
			IF (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = hist_oid) NOT IN ('r', 'p')
			   OR (SELECT count(*) FROM pg_catalog.pg_attribute a
					WHERE a.attrelid = hist_oid AND NOT a.attisdropped
					  AND a.attname IN ('from_stage', 'to_stage') AND a.atttypid = col.atttypid) <> 2
			   OR (SELECT count(*) FROM pg_catalog.pg_attribute a
					WHERE a.attrelid = hist_oid AND NOT a.attisdropped
					  AND a.attname = ANY (keycols)) <> pg_catalog.cardinality(keycols)
			THEN
				RAISE EXCEPTION 'relation % already exists and is not the stage history of %.%', hist_qual, qual, stage_column
					USING ERRCODE = '42P07',
						  HINT = 'Rename or drop it, or attach with track_history => false.';
			END IF;
		END IF;

		-- One creation row per row that has no history yet (all rows, the
		-- first time), in key order.
		EXECUTE format('INSERT INTO %1$s AS h (%2$s, from_stage, to_stage) '
					   'SELECT %3$s, NULL, t.%4$I FROM %5$s AS t '
					   'WHERE t.%4$I IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %1$s AS h WHERE %6$s) '
					   'ORDER BY %7$s',
					   hist_qual, keylist,
					   (SELECT string_agg(format('t.%I', k), ', ') FROM pg_catalog.unnest(keycols) AS k),
					   stage_column, qual, keymatch, keyorder);

		-- Owned by the table's owner, readable by whoever can read the table.
		IF (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = hist_oid) <> rel.relowner THEN
			EXECUTE format('ALTER TABLE %s OWNER TO %I', hist_qual, rel.owner_name);
		END IF;
		FOR g IN
			SELECT a.grantee, bool_or(a.is_grantable) AS is_grantable
			  FROM pg_catalog.aclexplode(rel.relacl) AS a
			 WHERE a.privilege_type = 'SELECT' AND a.grantee <> rel.relowner
			 GROUP BY a.grantee
		LOOP
			EXECUTE format('GRANT SELECT ON %s TO %s%s', hist_qual,
						   CASE WHEN g.grantee = 0 THEN 'PUBLIC'
								ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(g.grantee)) END,
						   CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
		END LOOP;

		EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %s FOR EACH ROW '
					   'WHEN (OLD.%I IS DISTINCT FROM NEW.%I) '
					   'EXECUTE FUNCTION pipeline.record_transition(%L, %L)',
					   trg_history, qual, stage_column, stage_column, stage_column, hist_qual);
		EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s FOR EACH ROW '
					   'EXECUTE FUNCTION pipeline.record_transition(%L, %L)',
					   trg_history_insert, qual, stage_column, hist_qual);

		IF pg_catalog.to_regprocedure('pipeline._create_history_views(regclass,name,regclass)') IS NOT NULL THEN
			EXECUTE 'SELECT pipeline._create_history_views($1, $2, $3)'
			  USING target, stage_column, hist_oid::pg_catalog.regclass;
		END IF;
	END
	$fn$;

CREATE FUNCTION pipeline.detach(target regclass, stage_column name DEFAULT 'stage')
	RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $fn$
	DECLARE
		qual text;
		owner oid;
		trg text;
		found_any boolean := false;
	BEGIN
		IF target IS NULL OR stage_column IS NULL THEN
			RAISE EXCEPTION 'arguments of pipeline.detach() must not be NULL' USING ERRCODE = '22004';
		END IF;
		SELECT format('%I.%I', n.nspname, c.relname), c.relowner INTO qual, owner
		  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		 WHERE c.oid = target;
		IF NOT pg_catalog.pg_has_role(current_user, owner, 'USAGE') THEN
			RAISE EXCEPTION 'must be owner of table %', qual USING ERRCODE = '42501';
		END IF;

		IF pg_catalog.to_regprocedure('pipeline._drop_history_views(regclass,name)') IS NOT NULL THEN
			EXECUTE 'SELECT pipeline._drop_history_views($1, $2)' USING target, stage_column;
		END IF;

		FOREACH trg IN ARRAY ARRAY['zz_pipeline_enforce_', 'zz_pipeline_enforce_insert_',
								   'zz_pipeline_history_', 'zz_pipeline_history_insert_']
		LOOP
			trg := trg || stage_column;
			IF EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
						WHERE t.tgrelid = target AND t.tgname = trg
						  AND t.tgfoid IN ('pipeline.enforce_transition()'::pg_catalog.regprocedure,
										   'pipeline.record_transition()'::pg_catalog.regprocedure)) THEN
				EXECUTE format('DROP TRIGGER %I ON %s', trg, qual);
				found_any := true;
			END IF;
		END LOOP;
		IF NOT found_any THEN
			RAISE NOTICE 'table % has no pipeline attached on column "%", skipping', qual, stage_column;
		END IF;
	END
	$fn$;

-- Attached tables, derived from their triggers (never stored).
CREATE VIEW pipeline.attachments AS
	SELECT format('%I.%I', n.nspname, c.relname) AS table_name,
		   a.args[1] AS stage_column,
		   coalesce(a.args[2], 'strict') AS ruleset,
		   h.history_table
	  FROM pg_catalog.pg_trigger t
	  JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
	  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
	 CROSS JOIN LATERAL (SELECT pipeline._trigger_args(t.tgargs) AS args) a
	  LEFT JOIN LATERAL (
			SELECT (pipeline._trigger_args(r.tgargs))[2] AS history_table
			  FROM pg_catalog.pg_trigger r
			 WHERE r.tgrelid = t.tgrelid
			   AND r.tgparentid = 0
			   AND r.tgfoid = 'pipeline.record_transition()'::pg_catalog.regprocedure
			   AND (r.tgtype::integer & 16) <> 0
			   AND (pipeline._trigger_args(r.tgargs))[1] = a.args[1]
			 LIMIT 1) h ON true
	 WHERE t.tgfoid = 'pipeline.enforce_transition()'::pg_catalog.regprocedure
	   AND t.tgparentid = 0
	   AND (t.tgtype::integer & 2) <> 0		-- BEFORE
	   AND (t.tgtype::integer & 16) <> 0;	-- UPDATE

GRANT SELECT ON pipeline.transition_rules, pipeline.attachments TO PUBLIC;
