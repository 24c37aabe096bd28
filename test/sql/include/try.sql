-- pg_temp.try(sql): runs sql and returns 'ok', or what a client sees of its
-- error: SQLSTATE and message, DETAIL, HINT and the error's schema, table,
-- column and constraint fields (the lines of those it has).  Included by
-- the suites that check errors (\i test/sql/include/try.sql: pg_regress runs
-- psql in the project root).
CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text; msg text; det text; hnt text; sch text; tbl text; col text; con text;
BEGIN
	EXECUTE sql;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
		det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT, sch = SCHEMA_NAME,
		tbl = TABLE_NAME, col = COLUMN_NAME, con = CONSTRAINT_NAME;
	RETURN concat_ws(E'\n', st || ': ' || msg, nullif('DETAIL: ' || det, 'DETAIL: '),
					 nullif('HINT: ' || hnt, 'HINT: '),
					 nullif(format('fields: schema=%s table=%s column=%s constraint=%s', sch, tbl, col, con),
							'fields: schema= table= column= constraint='));
END
$$;
