-- hostile_try(q): runs one query; returns its rows as text ("ok: a | b"),
-- or the error's SQLSTATE and message.  Digits after "OID " are masked
-- (they differ between runs).  Included by the hostile_* suites
-- (\i test/sql/include/hostile_try.sql: pg_regress runs psql in the
-- project root).
CREATE FUNCTION hostile_try(q text) RETURNS text
	LANGUAGE plpgsql AS $$
DECLARE
	r text;
BEGIN
	EXECUTE 'SELECT string_agg(coalesce(t::text, ''NULL''), '' | '') FROM (' || q || ') AS t(v)' INTO r;
	RETURN 'ok: ' || coalesce(r, '(no rows)');
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, 'OID [0-9]+', 'OID n', 'g');
END
$$;
