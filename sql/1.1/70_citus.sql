/* pipeline 1.1: Citus -- the configuration on every node */

-- Every node keeps its own configuration tables (stage_types,
-- stage_settings, rulesets, ruleset_edges, attached_tables), read by its
-- own C caches, with its own OIDs in their regtype and regclass columns.
-- On a Citus coordinator, every change to them is published, in the same
-- transaction, as a snapshot by name (no OIDs) into pipeline.citus_config,
-- a Citus reference table: Citus writes it on every node with two-phase
-- commit, and a trigger on each worker's placement applies the snapshot to
-- that worker's tables, resolving the names there.  A worker that has not
-- applied the snapshot its placement holds (a node added later) refuses to
-- answer until pipeline.citus_resync() has run on the coordinator.  Why
-- not make the configuration tables themselves reference tables: Citus
-- copies a reference table to a new node in binary, OIDs and all, so a
-- regtype or regclass column would name other objects there
-- (docs/scaling-out.md).  Without Citus all of this does nothing.

-- The published snapshot: one row, made a reference table by the first
-- publication on a coordinator with workers.  Never edited by hand.
CREATE TABLE pipeline.citus_config (
	id				integer PRIMARY KEY CHECK (id = 1),
	version			bigint NOT NULL,
	config			jsonb NOT NULL,
	published_at	timestamptz NOT NULL
);
COMMENT ON TABLE pipeline.citus_config IS
	'internal: the configuration as published by the Citus coordinator to every node (by name, not OID)';
COMMENT ON COLUMN pipeline.citus_config.id IS 'always 1: the table has one row';
COMMENT ON COLUMN pipeline.citus_config.version IS 'publication number, one more at every publication';
COMMENT ON COLUMN pipeline.citus_config.config IS 'the configuration tables'' rows, with types and tables by schema-qualified name';
COMMENT ON COLUMN pipeline.citus_config.published_at IS 'when the coordinator published it';
REVOKE ALL ON pipeline.citus_config FROM PUBLIC;
GRANT SELECT ON pipeline.citus_config TO PUBLIC;

-- The version of the snapshot this node applied (workers only).  Local to
-- each node, never distributed.
CREATE TABLE pipeline.citus_config_applied (
	version			bigint NOT NULL,
	applied_at		timestamptz NOT NULL
);
COMMENT ON TABLE pipeline.citus_config_applied IS
	'internal: the version of pipeline.citus_config this Citus worker applied to its configuration tables';
COMMENT ON COLUMN pipeline.citus_config_applied.version IS 'the version of pipeline.citus_config applied';
COMMENT ON COLUMN pipeline.citus_config_applied.applied_at IS 'when this node applied it';
REVOKE ALL ON pipeline.citus_config_applied FROM PUBLIC;
GRANT SELECT ON pipeline.citus_config_applied TO PUBLIC;
-- Both are derived from the configuration tables (a publication, and what
-- a node did with it), not configuration: not dumped (a restored cluster
-- publishes again at its first change, or with pipeline.citus_resync()).

-- 'coordinator' or 'worker' in a database where the citus extension
-- exists, NULL otherwise.  (A lone Citus node is its own coordinator.)
CREATE FUNCTION pipeline._citus_role() RETURNS text
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	g integer;
BEGIN
	IF pg_catalog.to_regclass('pg_catalog.pg_dist_local_group') IS NULL THEN
		RETURN NULL;
	END IF;
	EXECUTE 'SELECT groupid FROM pg_catalog.pg_dist_local_group' INTO g;
	RETURN CASE WHEN coalesce(g, 0) = 0 THEN 'coordinator' ELSE 'worker' END;
END
$$;
COMMENT ON FUNCTION pipeline._citus_role() IS
	'internal: this node''s Citus role (coordinator, worker), NULL without Citus';

-- Is relation rel a Citus table, and of which kind: 'hash', 'reference',
-- 'local' (a Citus-local table), 'other'; NULL when not a Citus table.
CREATE FUNCTION pipeline._citus_table_kind(rel regclass) RETURNS text
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	method "char";
	repmodel "char";
BEGIN
	IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
		RETURN NULL;
	END IF;
	EXECUTE 'SELECT partmethod, repmodel FROM pg_catalog.pg_dist_partition WHERE logicalrelid = $1'
	   INTO method, repmodel USING rel;
	RETURN CASE WHEN method IS NULL THEN NULL
				WHEN method = 'h' THEN 'hash'
				WHEN method = 'n' AND repmodel = 't' THEN 'reference'
				WHEN method = 'n' THEN 'local'
				ELSE 'other' END;
END
$$;
COMMENT ON FUNCTION pipeline._citus_table_kind(regclass) IS
	'internal: the Citus kind of a table (hash, reference, local, other), NULL when it is not a Citus table';

-- The configuration of this node, by name: what a worker needs to rebuild
-- its tables with its own OIDs.  Rows in a fixed order, so that equal
-- configurations give equal snapshots.
CREATE FUNCTION pipeline._citus_config_snapshot() RETURNS jsonb
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	SET intervalstyle = 'iso_8601'
	AS $$
	WITH types AS (
		SELECT t.oid, pg_catalog.format('%I.%I', n.nspname, t.typname) AS name
		  FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace),
	rels AS (
		SELECT c.oid, pg_catalog.format('%I.%I', n.nspname, c.relname) AS name
		  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace)
	SELECT pg_catalog.jsonb_build_object(
		'stage_types', (SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
								'stage_type', ty.name, 'labels', s.labels, 'won', s.won, 'lost', s.lost,
								'entry', s.entry, 'probabilities', s.probabilities) ORDER BY ty.name), '[]')
						  FROM pipeline.stage_types s JOIN types ty ON ty.oid = s.stage_type),
		'stage_settings', (SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
								'stage_type', ty.name, 'stage', s.stage, 'probability', s.probability,
								'rotting_after', s.rotting_after) ORDER BY ty.name, s.stage), '[]')
						  FROM pipeline.stage_settings s JOIN types ty ON ty.oid = s.stage_type),
		'rulesets', (SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
								'stage_type', ty.name, 'ruleset', r.ruleset) ORDER BY ty.name, r.ruleset), '[]')
						  FROM pipeline.rulesets r JOIN types ty ON ty.oid = r.stage_type),
		'ruleset_edges', (SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
								'stage_type', ty.name, 'ruleset', e.ruleset, 'from_stage', e.from_stage,
								'to_stage', e.to_stage)
								ORDER BY ty.name, e.ruleset, e.from_stage NULLS FIRST, e.to_stage), '[]')
						  FROM pipeline.ruleset_edges e JOIN types ty ON ty.oid = e.stage_type),
		'attached_tables', (SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
								'target', tr.name, 'stage_column', a.stage_column, 'ruleset', a.ruleset,
								'history', hr.name, 'entered_at_column', a.entered_at_column,
								'views', (SELECT coalesce(pg_catalog.jsonb_agg(vr.name ORDER BY u.n), '[]')
											FROM pg_catalog.unnest(a.views) WITH ORDINALITY AS u(v, n)
											JOIN rels vr ON vr.oid = u.v))
								ORDER BY tr.name, a.stage_column), '[]')
						  FROM pipeline.attached_tables a
						  JOIN rels tr ON tr.oid = a.target
						  LEFT JOIN rels hr ON hr.oid = a.history))
$$;
COMMENT ON FUNCTION pipeline._citus_config_snapshot() IS
	'internal: this node''s configuration tables by name (no OIDs), as published to Citus workers';

-- Publish this coordinator's configuration to every worker, in the current
-- transaction: make pipeline.citus_config a reference table if it is not
-- one yet, and write the snapshot into it unless it already holds an equal
-- one (force: write it anyway, so that every placement applies it again).
-- Does nothing without Citus, on a worker, or without any worker.
-- SECURITY DEFINER: the writers of the configuration need no right on
-- pipeline.citus_config, whose contents only this function computes.
CREATE FUNCTION pipeline._citus_publish(force boolean) RETURNS bigint
	LANGUAGE plpgsql
	SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	snap jsonb;
	cur record;
	has_workers boolean;
	v bigint;
BEGIN
	IF pipeline._citus_role() IS DISTINCT FROM 'coordinator' THEN
		RETURN NULL;
	END IF;
	EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_node
							 WHERE groupid <> 0 AND isactive AND noderole = ''primary'')'
	   INTO has_workers;
	IF NOT has_workers THEN
		RETURN NULL;
	END IF;
	IF pipeline._citus_table_kind('pipeline.citus_config') IS NULL THEN
		-- its placements carry the trigger that applies the snapshot
		PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
		PERFORM pg_catalog.create_reference_table('pipeline.citus_config');
	END IF;
	snap := pipeline._citus_config_snapshot();
	SELECT c.version, c.config INTO cur FROM pipeline.citus_config c WHERE c.id = 1;
	IF FOUND AND cur.config = snap AND NOT force THEN
		RETURN cur.version;
	END IF;
	v := coalesce(cur.version, 0) + 1;
	INSERT INTO pipeline.citus_config AS c (id, version, config, published_at)
	VALUES (1, v, snap, pg_catalog.now())
	ON CONFLICT (id) DO UPDATE
	   SET version = EXCLUDED.version, config = EXCLUDED.config, published_at = EXCLUDED.published_at;
	RETURN v;
END
$$;
COMMENT ON FUNCTION pipeline._citus_publish(boolean) IS
	'internal: publish the configuration from the Citus coordinator to every worker';
REVOKE ALL ON FUNCTION pipeline._citus_publish(boolean) FROM PUBLIC;
-- pipeline.citus_resync() runs as its caller: the extension owner (who may
-- change the configuration) can call it.
GRANT EXECUTE ON FUNCTION pipeline._citus_publish(boolean) TO @extowner@;

-- Statement trigger of every configuration table.  On a Citus coordinator:
-- publish.  On a worker: refuse, unless the change is the snapshot being
-- applied, or comes from the coordinator through Citus (propagated DDL, a
-- distributed table's metadata being dropped: the event triggers keep the
-- worker's rows in step, and the coordinator's publication follows): a
-- worker's configuration is the coordinator's.  Citus marks its own
-- connections with application_name 'citus_internal gpid=...'.
CREATE FUNCTION pipeline._citus_config_changed() RETURNS trigger
	LANGUAGE plpgsql
	SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	role text := pipeline._citus_role();
BEGIN
	IF role = 'coordinator' THEN
		PERFORM pipeline._citus_publish(false);
	ELSIF role = 'worker'
		  AND pg_catalog.current_setting('pipeline.applying_cluster_config', true) IS DISTINCT FROM 'on'
		  AND pg_catalog.current_setting('citus.enable_ddl_propagation', true) IS DISTINCT FROM 'off'
		  AND pg_catalog.current_setting('application_name') NOT LIKE 'citus\_internal%' THEN
		RAISE EXCEPTION 'the pipeline configuration of a Citus cluster is changed on its coordinator'
			USING ERRCODE = '0A000',
				  DETAIL = pg_catalog.format('This node is a Citus worker; a change to %s here would make its configuration differ from the coordinator''s.', TG_TABLE_NAME),
				  HINT = 'Run the same command on the coordinator: it reaches every worker when it commits.';
	END IF;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION pipeline._citus_config_changed() IS
	'internal: trigger of the configuration tables: publish to Citus workers, or refuse a change made on a worker';
REVOKE ALL ON FUNCTION pipeline._citus_config_changed() FROM PUBLIC;

CREATE TRIGGER zz_pipeline_citus AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON pipeline.stage_types FOR EACH STATEMENT EXECUTE FUNCTION pipeline._citus_config_changed();
CREATE TRIGGER zz_pipeline_citus AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON pipeline.stage_settings FOR EACH STATEMENT EXECUTE FUNCTION pipeline._citus_config_changed();
CREATE TRIGGER zz_pipeline_citus AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON pipeline.rulesets FOR EACH STATEMENT EXECUTE FUNCTION pipeline._citus_config_changed();
CREATE TRIGGER zz_pipeline_citus AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON pipeline.ruleset_edges FOR EACH STATEMENT EXECUTE FUNCTION pipeline._citus_config_changed();
CREATE TRIGGER zz_pipeline_citus AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON pipeline.attached_tables FOR EACH STATEMENT EXECUTE FUNCTION pipeline._citus_config_changed();

-- Row trigger of pipeline.citus_config, fired on every placement: a worker
-- replaces its configuration with the snapshot, resolving every name with
-- its own catalog.  A type or table the worker does not have is left out
-- (an aggregate or trigger on it then fails there, rather than answering
-- from a default); so is the attachment of a table that is not a Citus
-- table (it has no shard here).  SECURITY DEFINER: it writes every
-- attachment, whoever owns the table, as the coordinator already checked.
CREATE FUNCTION pipeline._citus_apply_config() RETURNS trigger
	LANGUAGE plpgsql
	SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	cfg jsonb := NEW.config;
BEGIN
	IF pipeline._citus_role() IS DISTINCT FROM 'worker' THEN
		RETURN NULL;
	END IF;
	PERFORM pg_catalog.set_config('pipeline.applying_cluster_config', 'on', true);

	DELETE FROM pipeline.ruleset_edges;
	DELETE FROM pipeline.rulesets;
	DELETE FROM pipeline.stage_settings;
	DELETE FROM pipeline.stage_types;
	DELETE FROM pipeline.attached_tables;

	INSERT INTO pipeline.stage_types (stage_type, labels, won, lost, entry, probabilities)
	SELECT pg_catalog.to_regtype(x->>'stage_type'),
		   ARRAY(SELECT pg_catalog.jsonb_array_elements_text(x->'labels')),
		   ARRAY(SELECT pg_catalog.jsonb_array_elements_text(x->'won')),
		   ARRAY(SELECT pg_catalog.jsonb_array_elements_text(x->'lost')),
		   ARRAY(SELECT pg_catalog.jsonb_array_elements_text(x->'entry')),
		   ARRAY(SELECT p::pg_catalog.numeric FROM pg_catalog.jsonb_array_elements_text(x->'probabilities') AS p)
	  FROM pg_catalog.jsonb_array_elements(cfg->'stage_types') AS x
	 WHERE pg_catalog.to_regtype(x->>'stage_type') IS NOT NULL;
	INSERT INTO pipeline.stage_settings (stage_type, stage, probability, rotting_after)
	SELECT pg_catalog.to_regtype(x->>'stage_type'), x->>'stage',
		   (x->>'probability')::pg_catalog.numeric, (x->>'rotting_after')::pg_catalog.interval
	  FROM pg_catalog.jsonb_array_elements(cfg->'stage_settings') AS x
	 WHERE pg_catalog.to_regtype(x->>'stage_type') IS NOT NULL;
	INSERT INTO pipeline.rulesets (stage_type, ruleset)
	SELECT pg_catalog.to_regtype(x->>'stage_type'), x->>'ruleset'
	  FROM pg_catalog.jsonb_array_elements(cfg->'rulesets') AS x
	 WHERE pg_catalog.to_regtype(x->>'stage_type') IS NOT NULL;
	INSERT INTO pipeline.ruleset_edges (stage_type, ruleset, from_stage, to_stage)
	SELECT pg_catalog.to_regtype(x->>'stage_type'), x->>'ruleset', x->>'from_stage', x->>'to_stage'
	  FROM pg_catalog.jsonb_array_elements(cfg->'ruleset_edges') AS x
	 WHERE pg_catalog.to_regtype(x->>'stage_type') IS NOT NULL;
	INSERT INTO pipeline.attached_tables (target, stage_column, ruleset, history, entered_at_column, views)
	SELECT pg_catalog.to_regclass(x->>'target'), x->>'stage_column', x->>'ruleset',
		   pg_catalog.to_regclass(x->>'history'), x->>'entered_at_column',
		   ARRAY(SELECT pg_catalog.to_regclass(v) FROM pg_catalog.jsonb_array_elements_text(x->'views') AS v
				  WHERE pg_catalog.to_regclass(v) IS NOT NULL)
	  FROM pg_catalog.jsonb_array_elements(cfg->'attached_tables') AS x
	 WHERE pipeline._citus_table_kind(pg_catalog.to_regclass(x->>'target')) IS NOT NULL;

	DELETE FROM pipeline.citus_config_applied;
	INSERT INTO pipeline.citus_config_applied (version, applied_at) VALUES (NEW.version, pg_catalog.now());
	PERFORM pg_catalog.set_config('pipeline.applying_cluster_config', 'off', true);
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION pipeline._citus_apply_config() IS
	'internal: trigger of pipeline.citus_config: a Citus worker applies the published configuration';
REVOKE ALL ON FUNCTION pipeline._citus_apply_config() FROM PUBLIC;

CREATE TRIGGER apply_config AFTER INSERT OR UPDATE ON pipeline.citus_config
	FOR EACH ROW EXECUTE FUNCTION pipeline._citus_apply_config();

-- Bring every node to the coordinator's configuration: copy the reference
-- tables to nodes that lack them (a node added since), then publish the
-- snapshot again so that every worker applies it.  Returns the version
-- published (NULL without workers).
CREATE FUNCTION pipeline.citus_resync() RETURNS bigint
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	role text := pipeline._citus_role();
BEGIN
	IF role IS NULL THEN
		RAISE EXCEPTION 'the citus extension is not installed in this database' USING ERRCODE = '55000';
	ELSIF role = 'worker' THEN
		RAISE EXCEPTION 'pipeline.citus_resync() runs on the Citus coordinator'
			USING ERRCODE = '0A000', HINT = 'Connect to the coordinator and run it there.';
	END IF;
	PERFORM pipeline._require_config_privilege();
	IF pipeline._citus_table_kind('pipeline.citus_config') IS NOT NULL THEN
		PERFORM pg_catalog.replicate_reference_tables();
	END IF;
	RETURN pipeline._citus_publish(true);
END
$$;
COMMENT ON FUNCTION pipeline.citus_resync() IS
	'bring every Citus worker to the coordinator''s pipeline configuration (after adding a node, or for configuration made before the workers)';

-- ---------------------------------------------------------------------------
-- attach on Citus tables
-- ---------------------------------------------------------------------------

-- The distribution column of a hash-distributed table.
CREATE FUNCTION pipeline._citus_distribution_column(rel regclass) RETURNS name
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	col name;
BEGIN
	EXECUTE 'SELECT pg_catalog.column_to_column_name(logicalrelid, partkey)::pg_catalog.name
			   FROM pg_catalog.pg_dist_partition WHERE logicalrelid = $1 AND partmethod = ''h'''
	   INTO col USING rel;
	RETURN col;
END
$$;
COMMENT ON FUNCTION pipeline._citus_distribution_column(regclass) IS
	'internal: the distribution column of a hash-distributed Citus table';

-- Called by pipeline.attach() before anything else is done to the table:
-- nothing for a table Citus does not know; for a hash-distributed table,
-- check that the distribution column is part of the primary key (the
-- history table is distributed on it, and its primary key is the table's
-- plus seq) and allow the triggers that attach creates on every shard
-- (citus.enable_unsafe_triggers and citus.multi_shard_modify_mode =
-- sequential, for the rest of the transaction); refuse
-- what is not supported, saying what is.
CREATE FUNCTION pipeline._citus_prepare_attach(target regclass) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	kind text := pipeline._citus_table_kind(target);
	distcol name;
BEGIN
	IF kind IS NULL THEN
		RETURN;
	END IF;
	IF pipeline._citus_role() = 'worker' THEN
		RAISE EXCEPTION 'pipeline.attach() of Citus table % runs on the coordinator', target
			USING ERRCODE = '0A000',
				  HINT = 'Connect to the coordinator and run it there: the triggers reach every shard, the attachment every node.';
	END IF;
	IF kind = 'reference' THEN
		RAISE EXCEPTION 'cannot attach a pipeline to Citus reference table %', target
			USING ERRCODE = '0A000',
				  DETAIL = 'A reference table is written on every node at once: each node''s trigger would record its own history row, with its own time and sequence number.',
				  HINT = pg_catalog.format('Distribute it by a primary-key column instead: SELECT undistribute_table(%L); SELECT create_distributed_table(%L, ''<key column>''); then SELECT pipeline.attach(%L);',
										   target::text, target::text, target::text);
	ELSIF kind = 'local' THEN
		RAISE EXCEPTION 'cannot attach a pipeline to Citus-local table %', target
			USING ERRCODE = '0A000',
				  DETAIL = 'A Citus-local table lives in a shard on the coordinator; pipeline.attach() supports hash-distributed tables and plain tables.',
				  HINT = pg_catalog.format('Make it a plain table (SELECT undistribute_table(%L);) or distribute it (SELECT create_distributed_table(%L, ''<key column>'');), then attach it.',
										   target::text, target::text);
	ELSIF kind <> 'hash' THEN
		RAISE EXCEPTION 'cannot attach a pipeline to Citus table %, which is not hash-distributed', target
			USING ERRCODE = '0A000',
				  HINT = 'Distribute it by hash on a primary-key column (create_distributed_table), then attach it.';
	END IF;

	distcol := pipeline._citus_distribution_column(target);
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i
					CROSS JOIN LATERAL pg_catalog.unnest(i.indkey::int2[]) AS k(attnum)
					JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
				   WHERE i.indrelid = target AND i.indisprimary AND a.attname = distcol) THEN
		RAISE EXCEPTION 'distribution column "%" of table % is not part of its primary key', distcol, target
			USING ERRCODE = '0A000',
				  DETAIL = 'The stage history is distributed on the same column, colocated with the table, and its primary key is the table''s plus seq.',
				  HINT = 'Distribute the table by a primary-key column.';
	END IF;
	-- attach creates the triggers on the table, and Citus on every shard;
	-- the history's views and functions are propagated to every node, which
	-- Citus does over one connection per node in a transaction that also
	-- wrote the shards
	PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
	PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);
END
$$;
COMMENT ON FUNCTION pipeline._citus_prepare_attach(regclass) IS
	'internal: pipeline.attach() of a Citus table: check what is supported, allow triggers on its shards';

-- Called by pipeline.detach() before it drops the triggers: Citus allows
-- that on a distributed table only under citus.enable_unsafe_triggers (set
-- for the rest of the transaction).
CREATE FUNCTION pipeline._citus_allow_triggers(target regclass) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF pipeline._citus_table_kind(target) IS NOT NULL THEN
		PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
	END IF;
END
$$;
COMMENT ON FUNCTION pipeline._citus_allow_triggers(regclass) IS
	'internal: pipeline.detach() of a Citus table: allow dropping the triggers of its shards';

-- Called by pipeline.attach() once the history table exists (new, or the
-- attachment's): for a hash-distributed table, distribute the history
-- table on the same column, colocated with it, unless it already is (its
-- rows, if any, move with it).  A history table distributed otherwise is
-- refused.
CREATE FUNCTION pipeline._citus_distribute_history(target regclass, history regclass) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	kind text := pipeline._citus_table_kind(target);
	hkind text := pipeline._citus_table_kind(history);
	distcol name;
	colocated boolean;
BEGIN
	IF kind IS DISTINCT FROM 'hash' THEN
		RETURN;
	END IF;
	distcol := pipeline._citus_distribution_column(target);
	IF hkind IS NULL THEN
		PERFORM pg_catalog.create_distributed_table(history, distcol::text, colocate_with => target::text);
		RETURN;
	END IF;
	EXECUTE 'SELECT h.colocationid = t.colocationid
			   FROM pg_catalog.pg_dist_partition h, pg_catalog.pg_dist_partition t
			  WHERE h.logicalrelid = $1 AND t.logicalrelid = $2'
	   INTO colocated USING history, target;
	IF hkind <> 'hash' OR pipeline._citus_distribution_column(history) IS DISTINCT FROM distcol
	   OR NOT colocated THEN
		RAISE EXCEPTION 'stage history table % is not distributed colocated with table %', history, target
			USING ERRCODE = '55000',
				  DETAIL = 'Its triggers write each row''s history into the colocated shard of the history table, on the same node.',
				  HINT = pg_catalog.format('Undistribute it (SELECT undistribute_table(%L);) and run pipeline.attach() again, which distributes it colocated.', history::text);
	END IF;
END
$$;
COMMENT ON FUNCTION pipeline._citus_distribute_history(regclass, regclass) IS
	'internal: pipeline.attach() of a distributed table: distribute its stage history colocated with it';
