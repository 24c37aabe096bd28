/* pipeline 1.1: for BI tools and applications -- chartable durations,
   text-parameter rule helpers, comments everywhere, grants that follow the
   table (docs/views.md and docs/applications.md) */

-- ---------------------------------------------------------------------------
-- Durations in days.  JDBC maps interval to OTHER (PGInterval), psqlODBC
-- to text, node-postgres to an object: no BI tool charts them without a
-- calculated field.  Every interval column of the views gets a double
-- precision companion in days right after it, and the averages and
-- percentiles are justify_hours()-ed (never "21 days 26:44:04").
-- ---------------------------------------------------------------------------

-- The stage catalog, plus rotting_after_days (appended: CREATE OR REPLACE
-- VIEW keeps the per-table rotting views that read it).
CREATE OR REPLACE VIEW pipeline.stage_catalog AS
	SELECT c.stage_type, c.stage, c.ordinal, c.kind, c.probability, c.is_entry, c.rotting_after,
		   (EXTRACT(epoch FROM c.rotting_after) / 86400)::pg_catalog.float8 AS rotting_after_days
	  FROM pipeline._stage_catalog() c;
COMMENT ON COLUMN pipeline.stage_catalog.rotting_after_days IS 'rotting_after in days (double precision, for charts)';

-- Comments of a history table and its columns.  Called by the views hook
-- below (so every history table with views has them) and by the upgrade;
-- pipeline.attach() may call it right after creating the table.
CREATE FUNCTION pipeline._comment_history_table(history regclass, target regclass, stage_column name)
	RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	t_name	text;
	h_name	text;
	k		name;
	c		record;
BEGIN
	SELECT pg_catalog.format('%I.%I', ns.nspname, r.relname) INTO t_name
	  FROM pg_catalog.pg_class r JOIN pg_catalog.pg_namespace ns ON ns.oid = r.relnamespace
	 WHERE r.oid = target;
	SELECT pg_catalog.format('%I.%I', ns.nspname, r.relname) INTO h_name
	  FROM pg_catalog.pg_class r JOIN pg_catalog.pg_namespace ns ON ns.oid = r.relnamespace
	 WHERE r.oid = history;
	IF t_name IS NULL OR h_name IS NULL THEN
		RAISE EXCEPTION 'relation with OID % does not exist', coalesce(history, target)::oid USING ERRCODE = '42P01';
	END IF;

	IF pg_catalog.obj_description(history, 'pg_class') IS NULL THEN
		EXECUTE pg_catalog.format('COMMENT ON TABLE %s IS %L', h_name,
			pg_catalog.format('Stage history of %s.%s, written by pipeline.record_transition().',
							  t_name, stage_column));
	END IF;
	FOR c IN
		SELECT a.attname,
			   CASE a.attname
					WHEN 'from_stage' THEN 'the stage the row left; NULL when the row was created'
					WHEN 'to_stage' THEN 'the stage the row entered; NULL when the row was deleted'
					WHEN 'changed_at' THEN 'when the row entered to_stage (order a row''s history by changed_at, then seq)'
					WHEN 'changed_by' THEN 'the role (current_user) whose statement made the change'
					WHEN 'seq' THEN 'order of record, increasing; breaks ties between rows of one changed_at'
					WHEN 'from_entered_at' THEN 'when the row entered from_stage (so changed_at - from_entered_at is the visit''s length); NULL when the row was created'
					WHEN 'furthest_before' THEN 'the furthest non-lost stage of the row''s earlier history rows; NULL when none'
			   END AS comment
		  FROM pg_catalog.pg_attribute a
		 WHERE a.attrelid = history AND a.attnum > 0 AND NOT a.attisdropped
		   AND a.attname IN ('from_stage', 'to_stage', 'changed_at', 'changed_by', 'seq',
							 'from_entered_at', 'furthest_before')
		UNION ALL
		SELECT a.attname, pg_catalog.format('primary key of %s', t_name)
		  FROM pg_catalog.pg_index x
		 CROSS JOIN LATERAL pg_catalog.unnest(x.indkey::int2[]) AS i(attnum)
		  JOIN pg_catalog.pg_attribute t ON t.attrelid = x.indrelid AND t.attnum = i.attnum
		  JOIN pg_catalog.pg_attribute a ON a.attrelid = history AND a.attname = t.attname
										AND a.attnum > 0 AND NOT a.attisdropped
		 WHERE x.indrelid = target AND x.indisprimary
	LOOP
		IF pg_catalog.col_description(history, (SELECT a.attnum FROM pg_catalog.pg_attribute a
												  WHERE a.attrelid = history AND a.attname = c.attname)) IS NULL THEN
			EXECUTE pg_catalog.format('COMMENT ON COLUMN %s.%I IS %L', h_name, c.attname, c.comment);
		END IF;
	END LOOP;
END
$$;

-- Attach hook: create <target>_stage_visits, _stage_durations, _rotting and
-- _funnel over `history` (docs/views.md, "Which views" and
-- "Columns").  Called by pipeline.attach with track_history;
-- idempotent.
--
-- A key's history is ordered by (changed_at, seq): changed_at may come from
-- the application (an entered-at column, an imported history), seq breaks
-- ties.  A deletion row (to_stage NULL) is not a visit; it ends the visit
-- before it.  The funnel, rotting and durations ignore deletion rows.
CREATE OR REPLACE FUNCTION pipeline._create_history_views(target regclass, stage_column name, history regclass)
	RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	names		record;
	t_name		text;		-- schema-qualified target
	h_name		text;		-- schema-qualified history table
	stype		regtype;	-- the stage column's enum type
	stype_name	text;		-- schema-qualified, for casts in the view text
	keys		name[];		-- primary-key columns, in key order
	eq_ops		text[];		-- their btree equality operators, OPERATOR(schema.=)
	amount_type	regtype;
	k			integer;
	h_keys		text;		-- h.k1, h.k2
	v_keys		text;		-- v.k1, v.k2
	w_keys		text;		-- w.k1, w.k2
	r_keys		text;		-- r.k1, r.k2
	join_vt		text;		-- v.k1 = t.k1 AND ...
	join_ht		text;		-- h.k1 = t.k1 AND ...
	join_xh		text;		-- x.k1 = h.k1 AND ...
	x_keys		text;		-- x.k1, x.k2
	m_keys		text;		-- m.k1, m.k2
	t_first		text;		-- t.<first key>: NULL when no target row matches
	amount_expr	text;
	lost_stages	text;
	rot_stages	text;
	key_comments text[] := '{}';
	def			text;
BEGIN
	names := pipeline._history_view_names(target, stage_column, true);

	SELECT pg_catalog.format('%I.%I', ns.nspname, c.relname) INTO t_name
	  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
	 WHERE c.oid = target;
	SELECT pg_catalog.format('%I.%I', ns.nspname, c.relname) INTO h_name
	  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
	 WHERE c.oid = history;
	IF h_name IS NULL THEN
		RAISE EXCEPTION 'history table with OID % does not exist', history::oid USING ERRCODE = '42P01';
	END IF;

	SELECT a.atttypid::regtype INTO stype
	  FROM pg_catalog.pg_attribute a
	 WHERE a.attrelid = target AND a.attname = stage_column AND a.attnum > 0 AND NOT a.attisdropped;
	IF stype IS NULL THEN
		RAISE EXCEPTION 'column "%" of relation % does not exist', stage_column, t_name USING ERRCODE = '42703';
	END IF;
	PERFORM pipeline._require_registered(stype);
	SELECT pg_catalog.format('%I.%I', ns.nspname, t.typname) INTO stype_name
	  FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace ns ON ns.oid = t.typnamespace
	 WHERE t.oid = stype;

	PERFORM pipeline._require_view_names_free(names.schema_name,
		ARRAY[names.visits, names.durations, names.rotting, names.funnel]);

	-- Key columns and, for each, the equality operator of the primary key's
	-- btree operator family (never resolved through search_path).
	SELECT pg_catalog.array_agg(k.key ORDER BY k.n), pg_catalog.array_agg(k.eq_op ORDER BY k.n)
	  INTO keys, eq_ops
	  FROM pipeline._primary_key_columns(target) AS k;
	IF keys IS NULL THEN
		RAISE EXCEPTION 'table % has no primary key', t_name USING ERRCODE = '42P16';
	END IF;
	IF keys && ARRAY['stage', 'ordinal', 'entered_at', 'exited_at', 'time_in_stage', 'time_in_stage_days',
					 'is_current', 'rotting_after', 'rotting_after_days']::name[] THEN
		RAISE EXCEPTION 'primary-key column of % is named like a column of its stage views', t_name
			USING ERRCODE = '42701',
				  DETAIL = pg_catalog.format('Key columns: %s.', pg_catalog.array_to_string(keys, ', ')),
				  HINT = 'The views have columns stage, ordinal, entered_at, exited_at, time_in_stage, time_in_stage_days, is_current, rotting_after and rotting_after_days; rename the key column or attach with track_history => false.';
	END IF;

	SELECT pg_catalog.string_agg('h.' || pg_catalog.quote_ident(c), ', ' ORDER BY n),
		   pg_catalog.string_agg('v.' || pg_catalog.quote_ident(c), ', ' ORDER BY n),
		   pg_catalog.string_agg('w.' || pg_catalog.quote_ident(c), ', ' ORDER BY n),
		   pg_catalog.string_agg('r.' || pg_catalog.quote_ident(c), ', ' ORDER BY n),
		   pg_catalog.string_agg(pg_catalog.format('v.%1$I %2$s t.%1$I', c, eq_ops[n::integer]), ' AND ' ORDER BY n),
		   pg_catalog.string_agg(pg_catalog.format('h.%1$I %2$s t.%1$I', c, eq_ops[n::integer]), ' AND ' ORDER BY n),
		   pg_catalog.string_agg(pg_catalog.format('x.%1$I %2$s h.%1$I', c, eq_ops[n::integer]), ' AND ' ORDER BY n),
		   pg_catalog.string_agg('x.' || pg_catalog.quote_ident(c), ', ' ORDER BY n),
		   pg_catalog.string_agg('m.' || pg_catalog.quote_ident(c), ', ' ORDER BY n)
	  INTO h_keys, v_keys, w_keys, r_keys, join_vt, join_ht, join_xh, x_keys, m_keys
	  FROM pg_catalog.unnest(keys) WITH ORDINALITY AS u(c, n);
	t_first := 't.' || pg_catalog.quote_ident(keys[1]);
	FOR k IN 1 .. pg_catalog.cardinality(keys) LOOP
		key_comments := key_comments || ARRAY[keys[k]::text,
			pg_catalog.format('primary key of %s', t_name)];
	END LOOP;

	-- The stages that rot, and the lost stages, are read when the view is
	-- queried (thresholds and labels change after attach).
	rot_stages := pg_catalog.format(
		'ARRAY(SELECT c.stage::%1$s FROM pipeline.stage_catalog c'
		' WHERE pg_catalog.to_regtype(c.stage_type) = %1$L::pg_catalog.regtype AND c.rotting_after IS NOT NULL)',
		stype_name);
	lost_stages := pg_catalog.format(
		'ARRAY(SELECT e FROM pg_catalog.unnest(pg_catalog.enum_range(NULL::%1$s)) AS e'
		' WHERE pipeline.stage_kind(e) = ''lost'')', stype_name);

	SELECT a.atttypid::regtype INTO amount_type
	  FROM pg_catalog.pg_attribute a
	 WHERE a.attrelid = target AND a.attname = 'amount' AND a.attnum > 0 AND NOT a.attisdropped;
	IF amount_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype, 'numeric'::regtype,
					   'real'::regtype, 'double precision'::regtype, 'money'::regtype) THEN
		amount_expr := 't.amount::pg_catalog.numeric';
	ELSE
		amount_expr := NULL;
	END IF;

	-- Visits: one row per history row that entered a stage, ended by the
	-- key's next history row in (changed_at, seq) order -- a move or a
	-- deletion.  The window runs over every history row, deletion rows
	-- included, which are dropped after it.  The left join to the target
	-- (on its primary key) tells current visits from the last visit of a
	-- row deleted without a deletion row (history recorded by 1.0); the
	-- planner drops it when unused.
	def := pg_catalog.format($v$
SELECT %7$s,
       w.stage,
       w.ordinal,
       w.entered_at,
       w.exited_at,
       w.time_in_stage,
       (EXTRACT(epoch FROM w.time_in_stage) / 86400)::pg_catalog.float8 AS time_in_stage_days,
       w.is_current
  FROM (SELECT %1$s,
               v.stage,
               v.ordinal,
               v.entered_at,
               v.exited_at,
               CASE WHEN v.exited_at IS NOT NULL THEN v.exited_at - v.entered_at
                    WHEN %6$s IS NOT NULL THEN GREATEST(pg_catalog.now() - v.entered_at, '0'::pg_catalog.interval)
               END AS time_in_stage,
               (v.exited_at IS NULL AND %6$s IS NOT NULL) AS is_current
          FROM (SELECT %2$s,
                       h.to_stage::pg_catalog.text AS stage,
                       pipeline.stage_ordinal(h.to_stage) AS ordinal,
                       h.changed_at AS entered_at,
                       pg_catalog.lead(h.changed_at) OVER (PARTITION BY %2$s ORDER BY h.changed_at, h.seq) AS exited_at
                  FROM %3$s h) v
          LEFT JOIN %4$s t ON %5$s
         WHERE v.stage IS NOT NULL) w$v$,
		v_keys, h_keys, h_name, t_name, join_vt, t_first, w_keys);
	PERFORM pipeline._install_view(target, names.schema_name, names.visits, def,
		pg_catalog.format('pipeline: one row per visit of a row of %s to a stage (from %s)', t_name, h_name),
		key_comments || ARRAY[
			'stage', 'stage label',
			'ordinal', 'position of the stage in its type''s order, 1-based (sort by it)',
			'entered_at', 'when the row entered the stage',
			'exited_at', 'when the row left the stage (moved or was deleted); NULL while current',
			'time_in_stage', 'exited_at - entered_at; until now for a current visit; NULL for the last visit of a row deleted before its deletions were recorded',
			'time_in_stage_days', 'time_in_stage in days (double precision, for charts)',
			'is_current', 'the row is in the target now and this is its latest visit']);

	-- Durations: completed visits only, i.e. visits the row left for another
	-- stage (a deletion ends a visit that is not completed).  Each move row
	-- carries when its from_stage was entered, so a visit is one history
	-- row: no window over each key's history, and the stages are hashed,
	-- not sorted (pipeline._visit_time_stats: avg and percentile_cont in
	-- one aggregate).  Then justified and converted to days.
	def := pg_catalog.format($v$
SELECT a.stage,
       a.ordinal,
       a.visits,
       pg_catalog.justify_hours(a.t[1]) AS avg_time,
       (EXTRACT(epoch FROM a.t[1]) / 86400)::pg_catalog.float8 AS avg_days,
       pg_catalog.justify_hours(a.t[2]) AS median_time,
       (EXTRACT(epoch FROM a.t[2]) / 86400)::pg_catalog.float8 AS median_days,
       pg_catalog.justify_hours(a.t[3]) AS p90_time,
       (EXTRACT(epoch FROM a.t[3]) / 86400)::pg_catalog.float8 AS p90_days
  FROM (SELECT h.from_stage::pg_catalog.text AS stage,
               pipeline.stage_ordinal(h.from_stage) AS ordinal,
               pg_catalog.count(*) AS visits,
               pipeline._visit_time_stats(h.from_entered_at, h.changed_at) AS t
          FROM %1$s h
         WHERE h.from_stage IS NOT NULL AND h.to_stage IS NOT NULL AND h.from_entered_at IS NOT NULL
         GROUP BY h.from_stage) a
 ORDER BY a.ordinal$v$,
		h_name);
	PERFORM pipeline._install_view(target, names.schema_name, names.durations, def,
		pg_catalog.format('pipeline: time spent in each stage by rows of %s, over completed visits', t_name),
		ARRAY[
			'stage', 'stage label',
			'ordinal', 'position of the stage in its type''s order, 1-based (sort by it)',
			'visits', 'number of completed visits (the row has moved to another stage since)',
			'avg_time', 'mean time in the stage (justify_hours: hours below 24)',
			'avg_days', 'avg_time in days (double precision, for charts)',
			'median_time', 'median time in the stage (percentile_cont 0.5; justify_hours)',
			'median_days', 'median_time in days (double precision, for charts)',
			'p90_time', '90th percentile of time in the stage (percentile_cont 0.9; justify_hours)',
			'p90_days', 'p90_time in days (double precision, for charts)']);

	-- Rotting: rows of the target now in a stage with a threshold, whose
	-- current visit began longer ago than the threshold.  The current visit
	-- began at the row's latest history row into its current stage.  Only
	-- the history of rows now in a stage that rots is read, by a join on
	-- the key and that stage (deletion rows never match a stage).
	def := pg_catalog.format($v$
SELECT %1$s,
       r.stage,
       r.entered_at,
       r.time_in_stage,
       (EXTRACT(epoch FROM r.time_in_stage) / 86400)::pg_catalog.float8 AS time_in_stage_days,
       r.rotting_after,
       r.rotting_after_days
  FROM (SELECT %9$s,
               m.stage::pg_catalog.text AS stage,
               m.entered_at,
               GREATEST(pg_catalog.now() - m.entered_at, '0'::pg_catalog.interval) AS time_in_stage,
               c.rotting_after,
               c.rotting_after_days
          FROM (SELECT %2$s, x.%3$I AS stage, pg_catalog.max(h.changed_at) AS entered_at
                  FROM %4$s x
                  JOIN %5$s h ON %6$s AND h.to_stage = x.%3$I
                 WHERE x.%3$I = ANY (%7$s)
                 GROUP BY %2$s, x.%3$I) m
          JOIN pipeline.stage_catalog c
            ON pg_catalog.to_regtype(c.stage_type) = %8$L::pg_catalog.regtype
           AND c.stage = m.stage::pg_catalog.text
         WHERE c.rotting_after IS NOT NULL
           AND pg_catalog.now() - m.entered_at > c.rotting_after) r$v$,
		r_keys, x_keys, stage_column, t_name, h_name, join_xh, rot_stages,
		stype_name, m_keys);
	PERFORM pipeline._install_view(target, names.schema_name, names.rotting, def,
		pg_catalog.format('pipeline: rows of %s that have stayed in their stage longer than its rotting_after', t_name),
		key_comments || ARRAY[
			'stage', 'stage label (the row''s current stage)',
			'entered_at', 'when the row entered its current stage',
			'time_in_stage', 'how long the row has been in its current stage',
			'time_in_stage_days', 'time_in_stage in days (double precision, for charts)',
			'rotting_after', 'the stage''s threshold (pipeline.set_rotting_after)',
			'rotting_after_days', 'rotting_after in days (double precision, for charts)']);

	-- Funnel: per row of the target, the furthest non-lost stage in its
	-- history (deletion rows ignored); a stage is reached by the rows whose
	-- furthest stage has reached it, by the one definition of "reached"
	-- the aggregates use (pipeline._stage_reached).
	--
	-- Without a group per key: each history row carries furthest_before,
	-- the furthest stage of the key's earlier rows, so the rows that moved
	-- a key's furthest stage up (from furthest_before to to_stage) form a
	-- chain whose last to_stage is the key's furthest stage, and one pass
	-- over those rows of the keys now in the table (a join on the key)
	-- gives the funnel: pipeline._funnel_raises.
	def := pg_catalog.format($v$
WITH stages AS (
    SELECT s.e AS stage, pipeline.stage_ordinal(s.e) AS ordinal,
           pg_catalog.row_number() OVER (ORDER BY s.e) AS n, pg_catalog.count(*) OVER () AS k
      FROM pg_catalog.unnest(pg_catalog.enum_range(NULL::%1$s)) AS s(e)
     WHERE pipeline.stage_kind(s.e) <> 'lost'
), raises AS (
    SELECT pipeline._funnel_raises(h.furthest_before, h.to_stage, %2$s) AS a
      FROM %3$s h
      JOIN %5$s t ON %6$s
     WHERE h.to_stage IS NOT NULL AND h.to_stage <> ALL (%4$s)
       AND (h.furthest_before IS NULL OR h.to_stage > h.furthest_before)
), reached AS (
    SELECT s.stage, s.ordinal, COALESCE(c.a[s.n], 0)::pg_catalog.int8 AS reached, c.a[s.n + s.k] AS reached_amount
      FROM stages s CROSS JOIN raises c
)
SELECT r.stage::pg_catalog.text AS stage,
       r.ordinal,
       r.reached,
       %7$s AS reached_amount,
       r.reached::pg_catalog.float8
         / NULLIF(pg_catalog.lag(r.reached) OVER w, 0)::pg_catalog.float8 AS conversion_from_previous,
       r.reached::pg_catalog.float8
         / NULLIF(pg_catalog.first_value(r.reached) OVER w, 0)::pg_catalog.float8 AS conversion_from_first
  FROM reached r
WINDOW w AS (ORDER BY r.ordinal)
 ORDER BY r.ordinal$v$,
		stype_name, coalesce(amount_expr, 'NULL::pg_catalog.numeric'),
		h_name, lost_stages, t_name, join_ht,
		CASE WHEN amount_expr IS NULL THEN 'NULL::pg_catalog.numeric'
			 ELSE 'COALESCE(r.reached_amount, 0::pg_catalog.numeric)' END);
	PERFORM pipeline._install_view(target, names.schema_name, names.funnel, def,
		pg_catalog.format('pipeline: funnel of the rows now in %s, by the furthest stage their history reached', t_name),
		ARRAY[
			'stage', 'stage label (open and won stages)',
			'ordinal', 'position of the stage in its type''s order, 1-based (sort by it)',
			'reached', 'rows now in the table that reached the stage (lost rows count for the stages they passed; skipped stages count as passed)',
			'reached_amount', 'sum of amount over those rows (NULL when the table has no amount column)',
			'conversion_from_previous', 'reached / reached of the previous stage (NULL for the first stage or a zero denominator)',
			'conversion_from_first', 'reached / reached of the first stage (NULL for a zero denominator)']);

	-- The history table is as visible as its views: document it too.
	PERFORM pipeline._comment_history_table(history, target, stage_column);
END
$$;

-- Upgrade from 1.0 (a new install has no attachment yet): every history
-- table gets its comments and its views those of 1.1.  (10_attachments
-- gave it its primary key and a nullable to_stage; 99_per_table_objects
-- takes the views the upgrade made out of the extension again.)  An
-- extension script may not CREATE OR REPLACE an object that is not a
-- member, so the four views are dropped and created; a user's view on one
-- of them keeps the old ones, with a WARNING.
DO $upgrade$
DECLARE
	a		record;
	names	record;
	v		name;
BEGIN
	FOR a IN
		SELECT x.target, x.stage_column, x.history, x.views
		  FROM pipeline.attached_tables x
		  JOIN pg_catalog.pg_class h ON h.oid = x.history
		 ORDER BY x.target::pg_catalog.oid, x.stage_column
	LOOP
		PERFORM pipeline._comment_history_table(a.history, a.target, a.stage_column);
		CONTINUE WHEN a.views = '{}';
		names := pipeline._history_view_names(a.target, a.stage_column, false);
		CONTINUE WHEN names.visits IS NULL;
		BEGIN
			FOREACH v IN ARRAY ARRAY[names.funnel, names.rotting, names.durations, names.visits] LOOP
				IF EXISTS (SELECT 1 FROM pg_catalog.pg_class c
							WHERE c.oid = ANY (a.views::pg_catalog.oid[]) AND c.relname = v
							  AND c.relnamespace = (SELECT n.oid FROM pg_catalog.pg_namespace n
													 WHERE n.nspname = names.schema_name)) THEN
					EXECUTE pg_catalog.format('DROP VIEW %I.%I', names.schema_name, v);
				END IF;
			END LOOP;
			PERFORM pipeline._create_history_views(a.target, a.stage_column, a.history);
			UPDATE pipeline.attached_tables x SET views = pipeline._history_views_of(a.target, a.stage_column)
			 WHERE x.target = a.target AND x.stage_column = a.stage_column;
		EXCEPTION WHEN dependent_objects_still_exist THEN
			RAISE WARNING 'the history views of %.% keep their 1.0 columns', a.target, a.stage_column
				USING DETAIL = SQLERRM,
					  HINT = 'Drop the views that depend on them, then run pipeline.attach() again.';
		END;
	END LOOP;
END
$upgrade$;

-- ---------------------------------------------------------------------------
-- Rules asked with text.  next_stages($1) and can_transition($1, $2) need
-- the enum type, which a driver binding text parameters cannot name
-- (42883); these take the table and find the stage type (its column's)
-- and ruleset (its attachment's) themselves.
-- ---------------------------------------------------------------------------

CREATE FUNCTION pipeline.allowed_moves(target regclass, from_stage text, stage_column name DEFAULT 'stage')
	RETURNS text[]
	AS 'MODULE_PATHNAME', 'pipeline_allowed_moves'
	LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION pipeline.can_move(target regclass, from_stage text, to_stage text,
								  stage_column name DEFAULT 'stage')
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'pipeline_can_move'
	LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION pipeline.allowed_moves(regclass, text, name) IS
	'the stages a row of an attached table at from_stage (NULL: a new row) may move to, as text[] in stage order';
COMMENT ON FUNCTION pipeline.can_move(regclass, text, text, name) IS
	'whether an attached table''s ruleset allows the move from from_stage (NULL: creation) to to_stage, both text';

-- ---------------------------------------------------------------------------
-- Comments of the per-type aggregates.  define_stages declares them per
-- stage type (they are not extension members), so the declaring functions
-- comment what they create.
-- ---------------------------------------------------------------------------

-- Comment every per-type aggregate (and final function) of a stage type
-- that exists now.
CREATE FUNCTION pipeline._comment_stage_aggregates(stage_type regtype) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	t	text := pipeline._type_name(stage_type);
	a	record;
BEGIN
	IF t IS NULL THEN
		RETURN;
	END IF;
	FOR a IN
		SELECT * FROM (VALUES
			('AGGREGATE', 'pipeline.conversion_rate(%1$s, %1$s)',
			 'share of rows that reached target (stage type %1$s)'),
			('AGGREGATE', 'pipeline.conversion_rate(%1$s, %1$s, %1$s)',
			 'among rows that reached from_stage, share that reached to_stage (stage type %1$s)'),
			('AGGREGATE', 'pipeline.win_rate(%1$s)',
			 'won rows / (won + lost) rows; open rows ignored (stage type %1$s)'),
			('AGGREGATE', 'pipeline.funnel(%1$s)',
			 'rows that reached each open and won stage, in stage order (stage type %1$s)'),
			('AGGREGATE', 'pipeline.furthest_stage(%1$s)',
			 'furthest non-lost stage, e.g. over a row''s history; NULL when all are lost (stage type %1$s)'),
			('FUNCTION', 'pipeline._furthest_stage_final(pipeline.count_state, %1$s)',
			 'internal: final function of pipeline.furthest_stage(%1$s)'),
			('AGGREGATE', 'pipeline.win_rate(%1$s, numeric)',
			 'won amount / closed (won + lost) amount, exact (stage type %1$s)'),
			('AGGREGATE', 'pipeline.weighted_pipeline(%1$s, numeric)',
			 'sum of amount times the stage''s probability over open rows, exact (stage type %1$s)')
		) AS v(kind, sig, comment)
	LOOP
		IF pg_catalog.to_regprocedure(pg_catalog.format(a.sig, t)) IS NOT NULL THEN
			EXECUTE pg_catalog.format('COMMENT ON %s %s IS %L', a.kind, pg_catalog.format(a.sig, t),
									  pg_catalog.format(a.comment, t));
		END IF;
	END LOOP;
END
$$;

-- One per-type aggregate in both forms: plain (with a combine function,
-- for parallel and distributed plans) and moving (window frames subtract
-- the row that leaves through the inverse).  Every per-type aggregate but
-- furthest_stage (65_furthest_stage.sql) has this shape; the declaring
-- functions below list theirs, one row each.  `args` is the argument list
-- with the type already in it; the other names are of pipeline's own
-- functions and state types.
CREATE FUNCTION pipeline._create_stage_aggregate(name text, args text, sfunc text, minvfunc text,
												 stype text, combinefunc text, finalfunc text) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
	EXECUTE pg_catalog.format($ddl$
		CREATE OR REPLACE AGGREGATE pipeline.%1$I(%2$s) (
			SFUNC = pipeline.%3$I,
			STYPE = pipeline.%5$I,
			COMBINEFUNC = pipeline.%6$I,
			FINALFUNC = pipeline.%7$I,
			MSFUNC = pipeline.%3$I,
			MINVFUNC = pipeline.%4$I,
			MSTYPE = pipeline.%5$I,
			MFINALFUNC = pipeline.%7$I,
			PARALLEL = SAFE)
		$ddl$, name, args, sfunc, minvfunc, stype, combinefunc, finalfunc);
END
$fn$;

-- As in 1.0 (sql/1.0/30_count_aggregates.sql), plus the comments; the
-- aggregates from one table of signatures.
CREATE OR REPLACE FUNCTION pipeline._declare_count_aggregates(stage_type regtype) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	t text;
	a record;
BEGIN
	SELECT format('%I.%I', n.nspname, ty.typname) INTO t
	  FROM pg_catalog.pg_type ty
	  JOIN pg_catalog.pg_namespace n ON n.oid = ty.typnamespace
	 WHERE ty.oid = stage_type AND ty.typtype = 'e';
	IF t IS NULL THEN
		RAISE EXCEPTION 'type % is not an enum', stage_type
			USING ERRCODE = '42809',
				  HINT = 'Pipeline aggregates are declared for enum types registered with pipeline.define_stages.';
	END IF;

	FOR a IN
		SELECT * FROM (VALUES
			('conversion_rate', 'reached %1$s, target %1$s',
			 '_conversion_reached_trans', '_conversion_reached_inv', '_count_ratio_final'),
			('conversion_rate', 'reached %1$s, from_stage %1$s, to_stage %1$s',
			 '_conversion_step_trans', '_conversion_step_inv', '_count_ratio_final'),
			('win_rate', 'stage %1$s', '_win_rate_trans', '_win_rate_inv', '_count_ratio_final'),
			('funnel', 'reached %1$s', '_stage_counts_trans', '_stage_counts_inv', '_funnel_final')
		) AS v(name, args, sfunc, minvfunc, finalfunc)
	LOOP
		PERFORM pipeline._create_stage_aggregate(a.name, format(a.args, t), a.sfunc, a.minvfunc,
												 'count_state', '_count_combine', a.finalfunc);
	END LOOP;
	-- The final function must be declared to return the enum type itself
	-- (Citus compares it with the aggregate's result type): a LANGUAGE sql
	-- wrapper, which any role can restore from a dump.
	EXECUTE format($ddl$
		CREATE OR REPLACE FUNCTION pipeline._furthest_stage_final(state pipeline.count_state, stage %1$s)
			RETURNS %1$s
			LANGUAGE sql STABLE PARALLEL SAFE
			SET search_path = pg_catalog, pg_temp
			AS 'SELECT pipeline._furthest_stage_value(state, stage)'
		$ddl$, t);
	PERFORM pipeline._declare_furthest_stage(stage_type);
	PERFORM pipeline._comment_stage_aggregates(stage_type);
END
$fn$;

-- As in 1.0 (sql/1.0/40_amount_aggregates.sql), plus the comments.
CREATE OR REPLACE FUNCTION pipeline._declare_amount_aggregates(stage_type regtype) RETURNS void
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	a record;
BEGIN
	FOR a IN
		SELECT * FROM (VALUES
			('win_rate', '_win_rate_amount_trans', '_win_rate_amount_inv'),
			('weighted_pipeline', '_weighted_pipeline_trans', '_weighted_pipeline_inv')
		) AS v(name, sfunc, minvfunc)
	LOOP
		PERFORM pipeline._create_stage_aggregate(a.name, pg_catalog.format('stage %s, amount numeric', stage_type),
												 a.sfunc, a.minvfunc, 'amount_state', '_amount_combine', '_amount_final');
	END LOOP;
	PERFORM pipeline._comment_stage_aggregates(stage_type);
END
$$;

REVOKE ALL ON FUNCTION pipeline._create_stage_aggregate(text, text, text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pipeline._create_stage_aggregate(text, text, text, text, text, text, text) TO @extowner@;
REVOKE ALL ON FUNCTION pipeline._comment_stage_aggregates(regtype) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pipeline._comment_stage_aggregates(regtype) TO @extowner@;

-- ---------------------------------------------------------------------------
-- A comment on every object a user sees (DBeaver, Metabase, DataGrip and
-- psql's \d+ and \df+ show them).  Internal functions say so.
-- ---------------------------------------------------------------------------

COMMENT ON SCHEMA pipeline IS
	'pipeline extension: sales pipeline stages, enforced stage transitions with history, analytics aggregates and views';

COMMENT ON EVENT TRIGGER pipeline_freeze_stage_type IS
	'pipeline: refuses ALTER TYPE pipeline.stage (its labels are part of the contract)';
COMMENT ON EVENT TRIGGER pipeline_forget_dropped_types IS
	'pipeline: forgets the configuration of dropped stage types, attached tables, history tables, views and stage columns';
COMMENT ON EVENT TRIGGER pipeline_drop_table_views IS
	'pipeline: before DROP TABLE, drops the history views of the attached and history tables it names';

-- Configuration tables.
COMMENT ON TABLE pipeline.stage_types IS
	'pipeline: enum types registered as pipelines (pipeline.define_stages); pipeline.stage is built in and has no row';
COMMENT ON COLUMN pipeline.stage_types.stage_type IS 'the enum type';
COMMENT ON COLUMN pipeline.stage_types.labels IS 'its labels at registration, in enum order';
COMMENT ON COLUMN pipeline.stage_types.won IS 'the labels that mean won';
COMMENT ON COLUMN pipeline.stage_types.lost IS 'the labels that mean lost';
COMMENT ON COLUMN pipeline.stage_types.entry IS 'the open labels a new row may start in (strict ruleset)';
COMMENT ON COLUMN pipeline.stage_types.probabilities IS 'default probability of each label, in enum order';
COMMENT ON TABLE pipeline.stage_settings IS
	'pipeline: per-stage settings changed by pipeline.set_probability and pipeline.set_rotting_after';
COMMENT ON COLUMN pipeline.stage_settings.stage_type IS 'the enum type';
COMMENT ON COLUMN pipeline.stage_settings.stage IS 'the label';
COMMENT ON COLUMN pipeline.stage_settings.probability IS 'probability that a deal in this stage is won, 0..1; NULL: the registration''s';
COMMENT ON COLUMN pipeline.stage_settings.rotting_after IS 'how long a row may stay in this stage before it rots; NULL: never';
COMMENT ON TABLE pipeline.rulesets IS
	'pipeline: custom rulesets (pipeline.copy_ruleset); the built-in strict and lenient ones are computed, never stored';
COMMENT ON COLUMN pipeline.rulesets.stage_type IS 'the enum type';
COMMENT ON COLUMN pipeline.rulesets.ruleset IS 'the ruleset''s name';
COMMENT ON TABLE pipeline.ruleset_edges IS
	'pipeline: the moves custom rulesets allow (pipeline.allow_transition, pipeline.forbid_transition)';
COMMENT ON COLUMN pipeline.ruleset_edges.stage_type IS 'the enum type';
COMMENT ON COLUMN pipeline.ruleset_edges.ruleset IS 'the custom ruleset';
COMMENT ON COLUMN pipeline.ruleset_edges.from_stage IS 'the stage moved from; NULL: creation of a row';
COMMENT ON COLUMN pipeline.ruleset_edges.to_stage IS 'the stage moved to';

-- Views.
COMMENT ON VIEW pipeline.stage_catalog IS
	'pipeline: every label of every registered stage type, with its metadata (sort by ordinal)';
COMMENT ON COLUMN pipeline.stage_catalog.stage_type IS 'the enum type, schema-qualified (pipeline.stage)';
COMMENT ON COLUMN pipeline.stage_catalog.stage IS 'the label';
COMMENT ON COLUMN pipeline.stage_catalog.ordinal IS 'position of the stage in its type''s order, 1-based (sort by it)';
COMMENT ON COLUMN pipeline.stage_catalog.kind IS 'open, won or lost';
COMMENT ON COLUMN pipeline.stage_catalog.probability IS 'probability that a deal in this stage is won, 0..1';
COMMENT ON COLUMN pipeline.stage_catalog.is_entry IS 'a new row may start in this stage (strict ruleset)';
COMMENT ON COLUMN pipeline.stage_catalog.rotting_after IS 'how long a row may stay in this stage before it rots; NULL: never';
COMMENT ON VIEW pipeline.transition_rules IS
	'pipeline: every move every ruleset allows, the built-in strict and lenient ones included';
COMMENT ON COLUMN pipeline.transition_rules.stage_type IS 'the enum type, schema-qualified';
COMMENT ON COLUMN pipeline.transition_rules.ruleset IS 'the ruleset (strict, lenient or custom)';
COMMENT ON COLUMN pipeline.transition_rules.from_stage IS 'the stage moved from; NULL: creation of a row';
COMMENT ON COLUMN pipeline.transition_rules.to_stage IS 'the stage moved to';
COMMENT ON COLUMN pipeline.attachments.table_name IS 'the attached table, schema-qualified';
COMMENT ON COLUMN pipeline.attachments.stage_column IS 'its stage column';
COMMENT ON COLUMN pipeline.attachments.ruleset IS 'the ruleset its triggers enforce';
COMMENT ON COLUMN pipeline.attachments.history_table IS 'its stage history table, schema-qualified; NULL when attached without history';
COMMENT ON COLUMN pipeline.attachments.entered_at_column IS 'the column holding when a row entered its stage; NULL when none';

-- Functions for users.
COMMENT ON FUNCTION pipeline.attach(regclass, name, text, boolean, name, regclass) IS
	'attach a pipeline to a table: enforce a ruleset on its stage column, record its stage history, create its BI views';
COMMENT ON FUNCTION pipeline.detach(regclass, name) IS
	'detach a pipeline from a table: drop its triggers and views; the history table stays';
COMMENT ON FUNCTION pipeline.enforce_transition() IS
	'trigger (installed by pipeline.attach): keeps a stage column on the moves its ruleset allows (23514 otherwise)';
COMMENT ON FUNCTION pipeline.record_transition() IS
	'trigger (installed by pipeline.attach): appends every stage transition to the table''s stage history';
COMMENT ON FUNCTION pipeline.can_transition(anyenum, anyenum, text) IS
	'whether the ruleset allows the move from from_stage (NULL: creation) to to_stage; text parameters: pipeline.can_move';
COMMENT ON FUNCTION pipeline.next_stages(anyenum, text) IS
	'the stages a row at from_stage (NULL: a new row) may move to under the ruleset, in stage order; text: pipeline.allowed_moves';
COMMENT ON FUNCTION pipeline.copy_ruleset(regtype, text, text) IS
	'create a custom ruleset of a stage type as a copy of another (strict, lenient or custom)';
COMMENT ON FUNCTION pipeline.allow_transition(regtype, text, text, text) IS
	'allow a move in a custom ruleset (from_stage NULL: creation in to_stage)';
COMMENT ON FUNCTION pipeline.forbid_transition(regtype, text, text, text) IS
	'remove a move from a custom ruleset (from_stage NULL: creation in to_stage)';
COMMENT ON FUNCTION pipeline.drop_ruleset(regtype, text) IS
	'drop a custom ruleset; refused (55006) while a table uses it';
COMMENT ON FUNCTION pipeline.count_state_in(cstring) IS 'text input of pipeline.count_state (validated)';
COMMENT ON FUNCTION pipeline.count_state_out(pipeline.count_state) IS 'text output of pipeline.count_state';
COMMENT ON FUNCTION pipeline.count_state_recv(internal) IS 'binary input of pipeline.count_state (validated)';
COMMENT ON FUNCTION pipeline.count_state_send(pipeline.count_state) IS 'binary output of pipeline.count_state';
COMMENT ON FUNCTION pipeline.amount_state_in(cstring) IS 'text input of pipeline.amount_state (validated)';
COMMENT ON FUNCTION pipeline.amount_state_out(pipeline.amount_state) IS 'text output of pipeline.amount_state';
COMMENT ON FUNCTION pipeline.amount_state_recv(internal) IS 'binary input of pipeline.amount_state (validated)';
COMMENT ON FUNCTION pipeline.amount_state_send(pipeline.amount_state) IS 'binary output of pipeline.amount_state';

-- Internal functions.
COMMENT ON FUNCTION pipeline._config_changed() IS
	'internal: statement trigger of the config tables, invalidates every backend''s stage cache';
COMMENT ON FUNCTION pipeline._forbid_stage_ddl() IS
	'internal: event trigger function of pipeline_freeze_stage_type';
COMMENT ON FUNCTION pipeline._forget_dropped_types() IS
	'internal: event trigger function of pipeline_forget_dropped_types';
COMMENT ON FUNCTION pipeline._drop_table_views() IS
	'internal: event trigger function of pipeline_drop_table_views';
COMMENT ON FUNCTION pipeline._require_registered(regtype) IS
	'internal: 42704 (42809 for a non-enum) unless the type is a registered stage type';
COMMENT ON FUNCTION pipeline._require_label(regtype, text) IS
	'internal: 22P02 for a label the stage type does not have';
COMMENT ON FUNCTION pipeline._require_config_privilege() IS
	'internal: 42501 unless the caller may edit the pipeline configuration';
COMMENT ON FUNCTION pipeline._require_table_owner(regclass, boolean) IS
	'internal: 42501 unless the caller owns the table; returns the owner';
COMMENT ON FUNCTION pipeline._apply_aggregates(regtype, text) IS
	'internal: declare or drop the per-type aggregates of a stage type (define_stages, undefine_stages)';
COMMENT ON FUNCTION pipeline._attachments_of_type(regtype) IS
	'internal: the attachments whose stage column has the type, with their rulesets';
COMMENT ON FUNCTION pipeline._tables_using_type(regtype) IS
	'internal: the tables attached with a stage column of the type';
COMMENT ON FUNCTION pipeline._stage_catalog() IS
	'internal: the rows of pipeline.stage_catalog, from the stage cache';
COMMENT ON FUNCTION pipeline._transition_rules() IS
	'internal: the rows of pipeline.transition_rules, from the rules cache';
COMMENT ON FUNCTION pipeline._ruleset_kind(regtype, text) IS
	'internal: builtin, custom, or NULL for a ruleset the stage type does not have';
COMMENT ON FUNCTION pipeline._type_name(regtype) IS
	'internal: the schema-qualified name of a type, whatever the search_path';
COMMENT ON FUNCTION pipeline._check_editable(regtype, text, text) IS
	'internal: refuses edits of unknown or built-in rulesets and edits without privilege';
COMMENT ON FUNCTION pipeline._check_edge(regtype, text, text, text) IS
	'internal: the checks allow_transition and forbid_transition share';
COMMENT ON FUNCTION pipeline._ruleset_users(regtype, text) IS
	'internal: the tables whose attachment enforces a ruleset';
COMMENT ON FUNCTION pipeline._check_attachment_row() IS
	'internal: row trigger of pipeline.attached_tables (only a table''s owner configures its attachment)';
COMMENT ON FUNCTION pipeline._put_attachment(regclass, name, text, regclass, regclass[], name) IS
	'internal: create or replace the attachment row of a table and stage column';
COMMENT ON FUNCTION pipeline._trigger_names(name) IS
	'internal: the names of the pipeline triggers of a stage column';
COMMENT ON FUNCTION pipeline._create_triggers(regclass, name, boolean, boolean) IS
	'internal: create the enforcing and history triggers of a table and stage column';
COMMENT ON FUNCTION pipeline._import_error(text, text, text, text) IS
	'internal: raise an error from inside a query (the checks of a history import)';
COMMENT ON FUNCTION pipeline._import_history(regclass, name, text, regclass, regclass, name) IS
	'internal: load and validate attach''s history_from into a new or empty history table';
COMMENT ON FUNCTION pipeline._upgrade_history_table(regclass, regclass) IS
	'internal: bring a 1.0 history table to 1.1 (nullable to_stage, primary key)';
COMMENT ON FUNCTION pipeline._last_stage_trans(internal, anyenum, timestamptz, bigint) IS
	'internal: transition function of pipeline._last_stage';
COMMENT ON FUNCTION pipeline._last_stage_combine(internal, internal) IS
	'internal: combine function of pipeline._last_stage';
COMMENT ON FUNCTION pipeline._last_stage_serialize(internal) IS
	'internal: serial function of pipeline._last_stage';
COMMENT ON FUNCTION pipeline._last_stage_deserialize(bytea, internal) IS
	'internal: deserial function of pipeline._last_stage';
COMMENT ON FUNCTION pipeline._last_stage_final(internal, anyenum, timestamptz, bigint) IS
	'internal: final function of pipeline._last_stage';
COMMENT ON FUNCTION pipeline._history_views_of(regclass, name) IS
	'internal: the history views of a table and stage column that exist now';
COMMENT ON FUNCTION pipeline._history_view_names(regclass, name, boolean) IS
	'internal: the schema and names of the four history views of a table and stage column';
COMMENT ON FUNCTION pipeline._require_view_names_free(name, name[]) IS
	'internal: 42P07 when a relation other than a view holds the name of a history view';
COMMENT ON FUNCTION pipeline._install_view(regclass, name, name, text, text, text[]) IS
	'internal: create or replace one history view, owned by the table''s owner, with its grants and comments';
COMMENT ON FUNCTION pipeline._create_history_views(regclass, name, regclass) IS
	'internal: attach hook, creates the stage_visits, stage_durations, rotting and funnel views of a table';
COMMENT ON FUNCTION pipeline._drop_history_views(regclass, name) IS
	'internal: detach hook, drops the history views of a table (the history table stays)';
COMMENT ON FUNCTION pipeline._drop_views_of(regclass[]) IS
	'internal: drops the history views of the attachments whose table or history table is listed';
COMMENT ON FUNCTION pipeline._comment_history_table(regclass, regclass, name) IS
	'internal: comment a history table and its columns';
COMMENT ON FUNCTION pipeline._comment_stage_aggregates(regtype) IS
	'internal: comment the per-type aggregates of a stage type';
COMMENT ON FUNCTION pipeline._create_stage_aggregate(text, text, text, text, text, text, text) IS
	'internal: create or replace one per-type aggregate (plain, parallel and moving forms)';
COMMENT ON FUNCTION pipeline._declare_count_aggregates(regtype) IS
	'internal: declare conversion_rate, win_rate, funnel and furthest_stage for a stage type';
COMMENT ON FUNCTION pipeline._drop_count_aggregates(regtype) IS
	'internal: drop what _declare_count_aggregates declared for a stage type';
COMMENT ON FUNCTION pipeline._declare_amount_aggregates(regtype) IS
	'internal: declare win_rate(stage, amount) and weighted_pipeline for a stage type';
COMMENT ON FUNCTION pipeline._drop_amount_aggregates(regtype) IS
	'internal: drop what _declare_amount_aggregates declared for a stage type';
COMMENT ON FUNCTION pipeline._count_combine(pipeline.count_state, pipeline.count_state) IS
	'internal: combine function of the counting aggregates';
COMMENT ON FUNCTION pipeline._count_ratio_final(pipeline.count_state) IS
	'internal: final function of conversion_rate and win_rate(stage)';
COMMENT ON FUNCTION pipeline._funnel_final(pipeline.count_state) IS
	'internal: final function of funnel';
COMMENT ON FUNCTION pipeline._furthest_stage_value(pipeline.count_state, anyenum) IS
	'internal: the furthest stage of a counting state (behind furthest_stage''s per-type final function)';
COMMENT ON FUNCTION pipeline._conversion_trans(pipeline.count_state, boolean) IS
	'internal: transition function of conversion_rate(boolean)';
COMMENT ON FUNCTION pipeline._conversion_inv(pipeline.count_state, boolean) IS
	'internal: inverse transition function of conversion_rate(boolean)';
COMMENT ON FUNCTION pipeline._conversion_reached_trans(pipeline.count_state, anyenum, anyenum) IS
	'internal: transition function of conversion_rate(reached, target)';
COMMENT ON FUNCTION pipeline._conversion_reached_inv(pipeline.count_state, anyenum, anyenum) IS
	'internal: inverse transition function of conversion_rate(reached, target)';
COMMENT ON FUNCTION pipeline._conversion_step_trans(pipeline.count_state, anyenum, anyenum, anyenum) IS
	'internal: transition function of conversion_rate(reached, from_stage, to_stage)';
COMMENT ON FUNCTION pipeline._conversion_step_inv(pipeline.count_state, anyenum, anyenum, anyenum) IS
	'internal: inverse transition function of conversion_rate(reached, from_stage, to_stage)';
COMMENT ON FUNCTION pipeline._win_rate_trans(pipeline.count_state, anyenum) IS
	'internal: transition function of win_rate(stage)';
COMMENT ON FUNCTION pipeline._win_rate_inv(pipeline.count_state, anyenum) IS
	'internal: inverse transition function of win_rate(stage)';
COMMENT ON FUNCTION pipeline._stage_counts_trans(pipeline.count_state, anyenum) IS
	'internal: transition function of funnel and furthest_stage';
COMMENT ON FUNCTION pipeline._stage_counts_inv(pipeline.count_state, anyenum) IS
	'internal: inverse transition function of funnel and furthest_stage';
COMMENT ON FUNCTION pipeline._amount_combine(pipeline.amount_state, pipeline.amount_state) IS
	'internal: combine function of the amount aggregates';
COMMENT ON FUNCTION pipeline._amount_final(pipeline.amount_state) IS
	'internal: final function of the amount aggregates (an exact sum or ratio)';
COMMENT ON FUNCTION pipeline._backlog_sums_trans(pipeline.amount_state, numeric, numeric) IS
	'internal: transition function of backlog_ratio(backlog, sales)';
COMMENT ON FUNCTION pipeline._backlog_sums_inv(pipeline.amount_state, numeric, numeric) IS
	'internal: inverse transition function of backlog_ratio(backlog, sales)';
COMMENT ON FUNCTION pipeline._backlog_amount_trans(pipeline.amount_state, numeric, timestamptz, timestamptz, timestamptz) IS
	'internal: transition function of backlog_amount';
COMMENT ON FUNCTION pipeline._backlog_amount_inv(pipeline.amount_state, numeric, timestamptz, timestamptz, timestamptz) IS
	'internal: inverse transition function of backlog_amount';
COMMENT ON FUNCTION pipeline._backlog_ratio_trans(pipeline.amount_state, numeric, timestamptz, timestamptz, tstzrange) IS
	'internal: transition function of backlog_ratio(amount, booked_at, fulfilled_at, period)';
COMMENT ON FUNCTION pipeline._backlog_ratio_inv(pipeline.amount_state, numeric, timestamptz, timestamptz, tstzrange) IS
	'internal: inverse transition function of backlog_ratio(amount, booked_at, fulfilled_at, period)';
COMMENT ON FUNCTION pipeline._book_to_bill_trans(pipeline.amount_state, numeric, timestamptz, timestamptz, tstzrange) IS
	'internal: transition function of book_to_bill';
COMMENT ON FUNCTION pipeline._book_to_bill_inv(pipeline.amount_state, numeric, timestamptz, timestamptz, tstzrange) IS
	'internal: inverse transition function of book_to_bill';
COMMENT ON FUNCTION pipeline._win_rate_amount_trans(pipeline.amount_state, anyenum, numeric) IS
	'internal: transition function of win_rate(stage, amount)';
COMMENT ON FUNCTION pipeline._win_rate_amount_inv(pipeline.amount_state, anyenum, numeric) IS
	'internal: inverse transition function of win_rate(stage, amount)';
COMMENT ON FUNCTION pipeline._weighted_pipeline_trans(pipeline.amount_state, anyenum, numeric) IS
	'internal: transition function of weighted_pipeline';
COMMENT ON FUNCTION pipeline._weighted_pipeline_inv(pipeline.amount_state, anyenum, numeric) IS
	'internal: inverse transition function of weighted_pipeline';

-- The per-type aggregates: pipeline.stage's (extension members) and, on
-- an upgrade, every registered type's.
SELECT pipeline._comment_stage_aggregates('pipeline.stage');
SELECT pipeline._comment_stage_aggregates(t.stage_type) FROM pipeline.stage_types t;

-- ---------------------------------------------------------------------------
-- Grants follow the table.  attach copies the table's SELECT grants to its
-- history table and views; an event trigger keeps them equal afterwards,
-- so a role granted SELECT on the table later reads its history and views
-- at once, and a role revoked no longer does.
-- ---------------------------------------------------------------------------

-- The relations whose table-level SELECT a GRANT/REVOKE changed
-- (src/grant_sync.c): pg_event_trigger_ddl_commands() names no object for
-- GRANT, its pg_ddl_command holds the resolved OIDs.
CREATE FUNCTION pipeline._grant_relations(pg_ddl_command) RETURNS oid[]
	AS 'MODULE_PATHNAME', 'pipeline_grant_relations'
	LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;

-- Event trigger (ddl_command_end, GRANT and REVOKE): for each attachment
-- whose table the command changed, copy the table's SELECT grants to its
-- history table and views, and to EXECUTE on its <prefix>_stage_at.  SECURITY DEFINER: whoever may grant on the
-- table (its owner, or a role holding the grant option) may not own the
-- history table and views; as the extension's owner (a superuser: the
-- install script runs as one) the grants are made as if by their owner.
-- It touches only the relations of attachments named by this very command,
-- and only those owned by the table's owner, so it never grants on a
-- relation of another role.
CREATE FUNCTION pipeline._sync_grants() RETURNS event_trigger
	LANGUAGE plpgsql
	SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	a	record;
	d	record;
BEGIN
	FOR a IN
		SELECT DISTINCT x.target, x.stage_column, x.history, x.views
		  FROM pg_catalog.pg_event_trigger_ddl_commands() c
		 CROSS JOIN LATERAL pg_catalog.unnest(pipeline._grant_relations(c.command)) AS g(relid)
		  JOIN pipeline.attached_tables x ON x.target::pg_catalog.oid = g.relid
		 WHERE NOT c.in_extension
	LOOP
		FOR d IN
			SELECT c.oid, false AS is_function, c.oid::pg_catalog.regclass::text AS name
			  FROM pg_catalog.unnest(CASE WHEN a.history IS NULL THEN '{}'::pg_catalog.regclass[]
										  ELSE ARRAY[a.history] END || a.views) AS u(rel)
			  JOIN pg_catalog.pg_class c ON c.oid = u.rel
			UNION ALL
			SELECT f.oid, true, f.oid::pg_catalog.regprocedure::text
			  FROM (SELECT pipeline._stage_at_function(a.target, a.stage_column)::pg_catalog.oid AS oid) f
			 WHERE f.oid IS NOT NULL
		LOOP
			BEGIN
				PERFORM pipeline._copy_grants(a.target, d.oid, d.is_function);
			EXCEPTION WHEN insufficient_privilege THEN
				RAISE WARNING 'could not copy the SELECT grants of % to %', a.target, d.name
					USING DETAIL = SQLERRM,
						  HINT = pg_catalog.format('Run pipeline.attach(%L, %L) again as the table''s owner.',
												   a.target::text, a.stage_column);
			END;
		END LOOP;
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION pipeline._sync_grants() FROM PUBLIC;

CREATE EVENT TRIGGER pipeline_sync_grants ON ddl_command_end
	WHEN TAG IN ('GRANT', 'REVOKE')
	EXECUTE FUNCTION pipeline._sync_grants();

COMMENT ON EVENT TRIGGER pipeline_sync_grants IS
	'pipeline: GRANT and REVOKE of SELECT on an attached table carry over to its history table, views and stage_at function';
COMMENT ON FUNCTION pipeline._sync_grants() IS
	'internal: event trigger function of pipeline_sync_grants';
COMMENT ON FUNCTION pipeline._grant_relations(pg_ddl_command) IS
	'internal: the relations whose SELECT privilege a GRANT or REVOKE changed';

-- Upgrade from 1.0, which copied grants only at attach: the history tables
-- get their table's SELECT grants now (the views were recreated with them).
SELECT pipeline._copy_grants(a.target, a.history, false)
  FROM pipeline.attached_tables a JOIN pg_catalog.pg_class h ON h.oid = a.history;
SELECT pipeline._copy_grants(a.target, pipeline._stage_at_function(a.target, a.stage_column), true)
  FROM pipeline.attached_tables a
 WHERE pipeline._stage_at_function(a.target, a.stage_column) IS NOT NULL;
