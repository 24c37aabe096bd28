-- Labels added with ALTER TYPE ... ADD VALUE to a registered custom enum:
-- open before the first won label, otherwise lost; never entry; an open one
-- gets the mean probability of its open neighbours.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pipeline;
RESET client_min_messages;
\set SHOW_CONTEXT never

CREATE TYPE added_stage AS ENUM ('new', 'talk', 'lost_early', 'demo', 'won', 'expanded', 'churned');
SELECT pipeline.define_stages('added_stage', '{won,expanded}', '{lost_early,churned}',
                              '{0.1,0.3,0,0.6,1,1,0}');
-- Warm the cache in this session, so the additions must invalidate it.
SELECT pipeline.stage_kind('talk'::added_stage);

ALTER TYPE added_stage ADD VALUE 'qualify' AFTER 'talk';          -- open, between talk (0.3) and demo (0.6)
ALTER TYPE added_stage ADD VALUE 'prospect' BEFORE 'new';          -- open, before the first open stage
ALTER TYPE added_stage ADD VALUE 'negotiate' BEFORE 'won';         -- open, last open stage
ALTER TYPE added_stage ADD VALUE 'refund' AFTER 'expanded';        -- after the first won: lost
ALTER TYPE added_stage ADD VALUE 'archived';                       -- at the end: lost

SELECT stage, ordinal, kind, probability, is_entry FROM pipeline.stage_catalog
 WHERE stage_type = 'public.added_stage' ORDER BY ordinal;
SELECT s, pipeline.stage_kind(s), pipeline.stage_ordinal(s), pipeline.stage_probability(s)
  FROM unnest(enum_range(NULL::added_stage)) s;

-- The mean follows the neighbours' current probabilities, and an explicit
-- setting on the new label wins.
SELECT pipeline.set_probability('added_stage', 'demo', 0.7);
SELECT pipeline.stage_probability('qualify'::added_stage);
SELECT pipeline.set_probability('added_stage', 'qualify', 0.42);
SELECT pipeline.stage_probability('qualify'::added_stage);
SELECT pipeline.set_rotting_after('added_stage', 'qualify', '10 days');
SELECT stage, rotting_after FROM pipeline.stage_catalog WHERE stage_type = 'public.added_stage' AND rotting_after IS NOT NULL;

-- Re-registering takes the current labels as registered ones.
SELECT pipeline.define_stages('added_stage', '{won,expanded}', '{lost_early,refund,churned,archived}');
SELECT stage, kind, probability, is_entry FROM pipeline.stage_catalog
 WHERE stage_type = 'public.added_stage' ORDER BY ordinal;

SELECT pipeline.undefine_stages('added_stage');
DROP TYPE added_stage;
