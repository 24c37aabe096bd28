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
