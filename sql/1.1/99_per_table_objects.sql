/* pipeline 1.1: per-table objects made by the upgrade belong to their tables */

-- Objects that an extension script creates become members of the extension;
-- the views and functions the upgrade (re)made for attached tables are the
-- tables' (owned by their owners, dropped with them, dumped with them), so
-- they leave the extension again.  A new install has none.
DO $disown$
DECLARE
	o record;
BEGIN
	FOR o IN
		SELECT pg_catalog.format('VIEW %s', v) AS member
		  FROM pipeline.attached_tables a, pg_catalog.unnest(a.views) AS v
		 WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
						WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = v
						  AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e')
		UNION ALL
		SELECT pg_catalog.format('FUNCTION %s', f)
		  FROM pipeline.attached_tables a
		 CROSS JOIN LATERAL pipeline._stage_at_function(a.target, a.stage_column) AS f
		 WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
						WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = f
						  AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e')
	LOOP
		EXECUTE 'ALTER EXTENSION pipeline DROP ' || o.member;
	END LOOP;
END
$disown$;
