/* pipeline 1.1: nothing needs a superuser */

-- define_stages and undefine_stages run as their caller, the extension
-- owner on managed PostgreSQL: it must be able to declare and drop the
-- amount aggregates of its types, like the counting ones.
GRANT EXECUTE ON FUNCTION pipeline._declare_amount_aggregates(regtype),
	pipeline._drop_amount_aggregates(regtype) TO @extowner@;
