-- pg_temp.side_by_side(got, want, skip): two rows as json, one line per
-- column of got that want has too (in got's column order, leaving out the
-- names in skip), its value in each.  For a reader's eye next to a count of
-- mismatches: the answer and the reference for one chosen group.  Included
-- by the suites that compare rows of answers (\i test/sql/include/side_by_side.sql).
CREATE FUNCTION pg_temp.side_by_side(got json, want json, skip text[] DEFAULT '{}')
	RETURNS TABLE (name text, got text, want text) LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT g.key, g.value::text, w.value::text
	  FROM json_each($1) WITH ORDINALITY AS g(key, value, n) JOIN json_each($2) AS w(key, value) USING (key)
	 WHERE g.key <> ALL ($3)
	 ORDER BY g.n
$$;
