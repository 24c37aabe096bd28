-- Everything a restored database must read the same: configuration, rules,
-- attachments and triggers, tables, history, per-type aggregates, aggregate
-- results and the views attach made (interval columns and their _days
-- companions aside, which move with now()).  psql -At output; every query is ordered.
\echo == stage_catalog
SELECT * FROM pipeline.stage_catalog ORDER BY stage_type, ordinal;
\echo == transition_rules
SELECT * FROM pipeline.transition_rules ORDER BY 1, 2, 3 NULLS FIRST, 4;
\echo == attachments
SELECT * FROM pipeline.attachments ORDER BY 1, 2;
\echo == config tables
SELECT stage_type::text, labels, won, lost, entry, probabilities FROM pipeline.stage_types ORDER BY 1;
SELECT stage_type::text, stage, probability, rotting_after FROM pipeline.stage_settings ORDER BY 1, 2;
SELECT stage_type::text, ruleset FROM pipeline.rulesets ORDER BY 1, 2;
SELECT stage_type::text, ruleset, from_stage, to_stage FROM pipeline.ruleset_edges ORDER BY 1, 2, 3 NULLS FIRST, 4;
\echo == triggers
SELECT c.oid::regclass::text, t.tgname, pg_get_triggerdef(t.oid)
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE NOT t.tgisinternal AND c.relnamespace = 'public'::regnamespace ORDER BY 1, 2;
\echo == per-type aggregates and functions in schema pipeline
SELECT p.oid::regprocedure::text, p.prokind FROM pg_proc p
 WHERE p.pronamespace = 'pipeline'::regnamespace AND pg_get_function_identity_arguments(p.oid) LIKE '%deal_stage%'
 ORDER BY 1;
\echo == tables
SELECT * FROM public.deals ORDER BY id;
SELECT * FROM public.orders ORDER BY region, id;
\echo == history
SELECT * FROM public.deals_stage_history ORDER BY id, seq;
SELECT * FROM public.orders_stage_history ORDER BY region, id, seq;
\echo == rules for every pair
SELECT a, b, pipeline.can_transition(a, b, 'fast_track'), pipeline.can_transition(a, b)
  FROM unnest(enum_range(NULL::public.deal_stage)) a, unnest(enum_range(NULL::public.deal_stage)) b ORDER BY 1, 2;
SELECT a, pipeline.next_stages(a, 'no_early_loss') FROM unnest(enum_range(NULL::pipeline.stage)) a ORDER BY 1;
\echo == aggregates
SELECT pipeline.win_rate(stage), pipeline.win_rate(stage, amount), pipeline.weighted_pipeline(stage, amount),
       pipeline.funnel(stage), pipeline.furthest_stage(stage), pipeline.conversion_rate(stage, 'demo'::public.deal_stage),
       pipeline.conversion_rate(stage, 'qualified'::public.deal_stage, 'won'::public.deal_stage),
       pipeline.conversion_rate(stage = 'won')
  FROM public.deals;
SELECT region, pipeline.win_rate(stage), pipeline.weighted_pipeline(stage, amount), pipeline.funnel(stage)
  FROM public.orders GROUP BY region ORDER BY region;
SELECT id, pipeline.furthest_stage(to_stage) FROM public.deals_stage_history GROUP BY id ORDER BY id;
\echo == views made by attach
SELECT format('SELECT %L, t::text FROM (SELECT %s FROM %s) t ORDER BY 2', c.oid::regclass,
              string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum), c.oid::regclass)
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relkind = 'v' AND c.relnamespace = 'public'::regnamespace AND a.atttypid <> 'interval'::regtype
   AND a.attname !~ '_days$'
 GROUP BY c.oid ORDER BY c.oid::regclass::text
\gexec
