-- Run after a restore (and on the source): the rules, triggers and history
-- keep working.  Illegal statements fail; SQLSTATEs are echoed.
\set VERBOSITY terse
UPDATE public.deals SET stage = 'qualified' WHERE id = 1;
\echo :SQLSTATE
UPDATE public.deals SET stage = 'new' WHERE id = 16;
\echo :SQLSTATE
UPDATE public.deals SET stage = 'won' WHERE id = 2;
\echo :SQLSTATE
UPDATE public.deals SET stage = 'qualified' WHERE id = 3;
\echo :SQLSTATE
INSERT INTO public.deals (id, stage, amount) VALUES (1001, 'new', 5);
\echo :SQLSTATE
INSERT INTO public.deals (id, stage, amount) VALUES (1002, 'won', 5);
\echo :SQLSTATE
UPDATE public.deals SET phase = 'closed_won' WHERE id = 3;
\echo :SQLSTATE
UPDATE public.deals SET stage = NULL WHERE id = 4;
\echo :SQLSTATE
UPDATE public.orders SET stage = 'closed_lost' WHERE region = 'eu' AND stage = 'lead_generation';
\echo :SQLSTATE
UPDATE public.orders SET region = 'eu', stage = 'prospecting' WHERE region = 'us' AND id = 1;
\echo :SQLSTATE
CREATE TABLE public.orders_apac PARTITION OF public.orders FOR VALUES IN ('apac');
INSERT INTO public.orders VALUES ('apac', 500, 'lead_generation', 1), ('apac', 501, 'prospecting', 2);
\echo :SQLSTATE
INSERT INTO public.orders VALUES ('apac', 502, 'proposal', 3);
\echo :SQLSTATE
UPDATE public.orders SET stage = 'prospecting' WHERE id = 500;
\echo :SQLSTATE
\echo == history written after the restore (keys, stages, seq)
SELECT id, from_stage, to_stage, seq FROM public.deals_stage_history WHERE seq > :deals_seq ORDER BY seq;
SELECT region, id, from_stage, to_stage, seq FROM public.orders_stage_history WHERE seq > :orders_seq ORDER BY seq;
\echo == tables
SELECT * FROM public.deals ORDER BY id;
SELECT * FROM public.orders ORDER BY region, id;
\echo == views made by attach, after the writes (times and durations, with their
\echo    _days companions, left out: they differ between databases)
SELECT format('SELECT %L, t::text FROM (SELECT %s FROM %s) t ORDER BY 2', c.oid::regclass,
              string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum), c.oid::regclass)
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relkind = 'v' AND c.relnamespace = 'public'::regnamespace
   AND a.atttypid NOT IN ('interval'::regtype, 'timestamptz'::regtype) AND a.attname !~ '_days$'
 GROUP BY c.oid ORDER BY c.oid::regclass::text
\gexec
