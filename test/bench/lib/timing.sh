# Shared by the benchmark scripts (sourced, not run): timing by the
# server's clock, and the median of a list.  Expects $PSQL.

# time_script: elapsed milliseconds of the psql script read from stdin,
# measured by the server's clock inside the session
time_script() {
	{
		echo "SELECT extract(epoch FROM clock_timestamp()) AS t0 \\gset"
		cat
		echo "SELECT round(((extract(epoch FROM clock_timestamp()) - :t0) * 1000)::numeric, 1);"
	} | $PSQL | tail -n 1
}

# median: the median of the numbers on stdin (separated by spaces or lines)
median() {
	tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'
}

# cpu_script: CPU milliseconds (user + system) the backend spent on the
# psql script read from stdin, from its /proc/self/stat (clock ticks of
# 10 ms), for serial plans on a machine that other work keeps busy:
# wall time there measures the scheduler as much as the query.  Needs a
# superuser (pg_read_file) and a server on this Linux machine.
cpu_script() {
	{
		echo "SELECT (string_to_array(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' '))[12:13] AS c0 \\gset"
		cat
		echo "SELECT (SELECT (sum(x::bigint) * 10)::bigint FROM unnest((string_to_array(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' '))[12:13]) x)"
		echo "     - (SELECT (sum(x::bigint) * 10)::bigint FROM unnest(:'c0'::text[]) x);"
	} | $PSQL | tail -n 1
}
