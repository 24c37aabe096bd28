/*
 * Client tests through pgjdbc, the driver of Metabase, Tableau, DBeaver and
 * every Java application: what DatabaseMetaData says of the views, reading
 * them, the aggregates, the rule helpers with bound text parameters, and
 * the 23514 with its server error fields.
 *
 * Runs against the server named by the PG* environment variables (a socket
 * directory in PGHOST means localhost: pgjdbc speaks TCP), in a database of
 * its own that it creates and drops.  Prints one line per test and a final
 * "N passed, M failed"; exits non-zero on any failure.
 */
import java.math.BigDecimal;
import java.sql.*;
import java.util.*;

import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;

public class JdbcClients {
	interface Test { void run(Connection c) throws Exception; }

	static final String DB = "pipeline_jdbc_" + ProcessHandle.current().pid();
	static final Map<String, Test> TESTS = new LinkedHashMap<>();

	static String env(String name, String dflt) {
		String v = System.getenv(name);
		return v == null || v.isEmpty() ? dflt : v;
	}

	static Connection connect(String db, String params) throws SQLException {
		String host = env("PGHOST", "localhost");
		if (host.startsWith("/"))
			host = "localhost";
		Properties p = new Properties();
		p.setProperty("user", env("PGUSER", System.getProperty("user.name")));
		String pw = System.getenv("PGPASSWORD");
		if (pw != null)
			p.setProperty("password", pw);
		return DriverManager.getConnection("jdbc:postgresql://" + host + ":" + env("PGPORT", "5432") + "/" + db + params, p);
	}

	static void check(boolean cond, Object what) {
		if (!cond)
			throw new AssertionError(String.valueOf(what));
	}

	static void exec(Connection c, String... sql) throws SQLException {
		try (Statement s = c.createStatement()) {
			for (String q : sql)
				s.execute(q);
		}
	}

	// The views and, in order, the JDBC type of each column.
	static final Map<String, int[]> VIEWS = new LinkedHashMap<>();
	static {
		int V = Types.VARCHAR, I = Types.INTEGER, B = Types.BIGINT, N = Types.NUMERIC, D = Types.DOUBLE,
			T = Types.TIMESTAMP, BOOL = Types.BIT, IV = Types.OTHER;
		VIEWS.put("pipeline.stage_catalog", new int[] {V, V, I, V, N, BOOL, IV, D});
		VIEWS.put("pipeline.transition_rules", new int[] {V, V, V, V});
		VIEWS.put("pipeline.attachments", new int[] {V, V, V, V, V});
		VIEWS.put("public.deals_stage_visits", new int[] {I, V, I, T, T, IV, D, BOOL});
		VIEWS.put("public.deals_stage_durations", new int[] {V, I, B, IV, D, IV, D, IV, D});
		VIEWS.put("public.deals_rotting", new int[] {I, V, T, IV, D, IV, D});
		VIEWS.put("public.deals_funnel", new int[] {V, I, B, N, D, D});
		VIEWS.put("public.tickets_status_funnel", new int[] {V, I, B, N, D, D});
	}

	static {
		// Every view is listed; every column maps to a standard type, and
		// the only OTHER columns are intervals, each followed by its
		// double precision companion in days.
		TESTS.put("metadata_lists_views_with_standard_types", c -> {
			DatabaseMetaData md = c.getMetaData();
			Set<String> views = new HashSet<>();
			for (String schema : new String[] {"pipeline", "public"})
				try (ResultSet rs = md.getTables(null, schema, "%", new String[] {"VIEW"})) {
					while (rs.next())
						views.add(rs.getString("TABLE_SCHEM") + "." + rs.getString("TABLE_NAME"));
				}
			check(views.containsAll(VIEWS.keySet()), views);
			for (String v : new String[] {"stage_visits", "stage_durations", "rotting", "funnel"})
				check(views.contains("public.tickets_status_" + v), v);
			for (Map.Entry<String, int[]> e : VIEWS.entrySet()) {
				String[] sv = e.getKey().split("\\.");
				List<Integer> types = new ArrayList<>();
				List<String> names = new ArrayList<>();
				try (ResultSet rs = md.getColumns(null, sv[0], sv[1], "%")) {
					while (rs.next()) {
						types.add(rs.getInt("DATA_TYPE"));
						names.add(rs.getString("COLUMN_NAME"));
						check(rs.getString("REMARKS") != null && !rs.getString("REMARKS").isEmpty(),
							  e.getKey() + "." + rs.getString("COLUMN_NAME") + " has no comment");
					}
				}
				int[] want = e.getValue();
				check(types.size() == want.length, e.getKey() + " " + names + " " + types);
				for (int i = 0; i < want.length; i++) {
					check(types.get(i) == want[i], e.getKey() + "." + names.get(i) + ": " + types.get(i));
					if (types.get(i) == Types.OTHER)
						check(i + 1 < want.length && types.get(i + 1) == Types.DOUBLE
							  && names.get(i + 1).endsWith("_days"),
							  e.getKey() + "." + names.get(i) + " is OTHER without a _days column after it");
				}
			}
		});

		// Every view reads; day columns arrive as Double, equal to the
		// interval's length in days; labels as String, ordinals as Integer.
		TESTS.put("every_view_reads_with_java_types", c -> {
			for (String v : VIEWS.keySet())
				try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT * FROM " + v)) {
					ResultSetMetaData m = rs.getMetaData();
					int rows = 0;
					while (rs.next()) {
						rows++;
						for (int i = 1; i <= m.getColumnCount(); i++) {
							Object o = rs.getObject(i);
							String name = m.getColumnName(i);
							if (o == null)
								continue;
							if (name.endsWith("_days"))
								check(o instanceof Double, v + "." + name + " " + o.getClass());
							if (name.equals("stage") || name.equals("stage_type"))
								check(o instanceof String, v + "." + name);
							if (name.equals("ordinal"))
								check(o instanceof Integer, v + "." + name);
							if (name.equals("reached_amount") || name.equals("probability"))
								check(o instanceof BigDecimal, v + "." + name);
						}
					}
					check(rows > 0, v + " is empty");
				}
			try (Statement s = c.createStatement();
				 ResultSet rs = s.executeQuery("SELECT avg_time, avg_days, p90_time, p90_days FROM public.deals_stage_durations")) {
				while (rs.next())
					for (int i = 1; i <= 3; i += 2) {
						org.postgresql.util.PGInterval iv = (org.postgresql.util.PGInterval) rs.getObject(i);
						double days = iv.getDays() + iv.getHours() / 24.0 + iv.getMinutes() / 1440.0 + iv.getSeconds() / 86400.0;
						check(iv.getHours() < 24, "not justified: " + iv);
						check(Math.abs(days - rs.getDouble(i + 1)) < 1e-9, iv + " vs " + rs.getDouble(i + 1));
					}
			}
		});

		TESTS.put("aggregates_run", c -> {
			try (Statement s = c.createStatement();
				 ResultSet rs = s.executeQuery("SELECT pipeline.win_rate(stage), pipeline.win_rate(stage, amount), "
						+ "pipeline.weighted_pipeline(stage, amount), pipeline.funnel(stage), "
						+ "pipeline.furthest_stage(stage)::text, pipeline.conversion_rate(stage, 'qualification'::pipeline.stage) "
						+ "FROM public.deals")) {
				check(rs.next(), "no row");
				check(rs.getObject(1) instanceof Double, rs.getObject(1));
				check(rs.getObject(2) instanceof BigDecimal, rs.getObject(2));
				check(rs.getObject(3) instanceof BigDecimal, rs.getObject(3));
				Long[] funnel = (Long[]) rs.getArray(4).getArray();
				check(funnel.length == 8 && funnel[0] >= funnel[1], Arrays.toString(funnel));
				check(rs.getString(5) != null, "furthest_stage");
				check(rs.getObject(6) instanceof Double, rs.getObject(6));
			}
			try (Statement s = c.createStatement();
				 ResultSet rs = s.executeQuery("SELECT pipeline.backlog_ratio(x, y) FROM (VALUES (3::numeric, 2::numeric)) v(x, y)")) {
				check(rs.next() && rs.getBigDecimal(1).compareTo(new BigDecimal("1.5")) == 0, "backlog_ratio");
			}
		});

		// setString parameters: plain varchar, no enum type named anywhere.
		TESTS.put("rule_helpers_take_bound_strings", c -> {
			try (PreparedStatement ps = c.prepareStatement("SELECT pipeline.allowed_moves(?, ?)")) {
				ps.setString(1, "public.deals");
				ps.setString(2, "proposal");
				try (ResultSet rs = ps.executeQuery()) {
					check(rs.next(), "no row");
					String[] moves = (String[]) rs.getArray(1).getArray();
					check(Arrays.equals(moves, new String[] {"negotiation", "closed_lost"}), Arrays.toString(moves));
				}
				ps.setNull(2, Types.VARCHAR);
				try (ResultSet rs = ps.executeQuery()) {
					rs.next();
					check(Arrays.equals((String[]) rs.getArray(1).getArray(),
										new String[] {"lead_generation", "prospecting"}), "creation");
				}
			}
			try (PreparedStatement ps = c.prepareStatement("SELECT pipeline.can_move(?, ?, ?, ?)")) {
				ps.setString(1, "public.tickets");
				ps.setString(2, "new");
				ps.setString(3, "triaged");
				ps.setString(4, "status");
				try (ResultSet rs = ps.executeQuery()) {
					check(rs.next() && rs.getBoolean(1), "new -> triaged");
				}
				ps.setString(3, "done");
				try (ResultSet rs = ps.executeQuery()) {
					check(rs.next() && !rs.getBoolean(1), "new -> done");
				}
				ps.setString(3, "nonsense");
				try {
					ps.executeQuery();
					check(false, "unknown label accepted");
				} catch (PSQLException e) {
					check("22P02".equals(e.getSQLState()), e.getSQLState());
				}
			}
			try (PreparedStatement ps = c.prepareStatement("SELECT pipeline.allowed_moves(?, ?)")) {
				ps.setString(1, "pipeline.stage_types");
				ps.setString(2, "proposal");
				ps.executeQuery();
				check(false, "unattached table accepted");
			} catch (PSQLException e) {
				check("42704".equals(e.getSQLState()), e.getSQLState());
			}
		});

		// Writing the enum: setString alone is refused (42804); a cast,
		// setObject(..., OTHER) and stringtype=unspecified work.
		TESTS.put("enum_binding", c -> {
			try (PreparedStatement ps = c.prepareStatement("UPDATE public.deals SET stage = ? WHERE id = 1")) {
				ps.setString(1, "qualification");
				ps.executeUpdate();
				check(false, "varchar accepted for the enum");
			} catch (PSQLException e) {
				check("42804".equals(e.getSQLState()), e.getSQLState() + " " + e.getMessage());
			}
			try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM public.deals WHERE stage = ?::pipeline.stage")) {
				ps.setString(1, "prospecting");
				try (ResultSet rs = ps.executeQuery()) {
					check(rs.next() && rs.getLong(1) >= 1, "cast");
				}
			}
			try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM public.deals WHERE stage = ?")) {
				ps.setObject(1, "prospecting", Types.OTHER);
				try (ResultSet rs = ps.executeQuery()) {
					check(rs.next() && rs.getLong(1) >= 1, "setObject OTHER");
				}
			}
			try (Connection u = connect(DB, "?stringtype=unspecified");
				 PreparedStatement ps = u.prepareStatement("SELECT count(*) FROM public.deals WHERE stage = ?")) {
				ps.setString(1, "prospecting");
				try (ResultSet rs = ps.executeQuery()) {
					check(rs.next() && rs.getLong(1) >= 1, "stringtype=unspecified");
				}
			}
		});

		// The 23514 and its server error fields, as getServerErrorMessage() gives them.
		TESTS.put("illegal_move_is_check_violation_with_fields", c -> {
			try (PreparedStatement ps = c.prepareStatement("UPDATE public.deals SET stage = ?::pipeline.stage WHERE id = ?")) {
				ps.setString(1, "closed_won");
				ps.setInt(2, 2);
				ps.executeUpdate();
				check(false, "illegal move accepted");
			} catch (PSQLException e) {
				ServerErrorMessage m = e.getServerErrorMessage();
				check("23514".equals(e.getSQLState()), e.getSQLState());
				check(m.getMessage().equals("illegal stage transition from \"qualification\" to \"closed_won\""), m.getMessage());
				check(m.getDetail() != null && m.getDetail().contains("Allowed from \"qualification\": initial_contact, closed_lost."),
					  m.getDetail());
				check(m.getHint() != null && m.getHint().contains("ruleset"), m.getHint());
				check("public".equals(m.getSchema()), m.getSchema());
				check("deals".equals(m.getTable()), m.getTable());
				check("stage".equals(m.getColumn()), m.getColumn());
				check("zz_pipeline_enforce_stage".equals(m.getConstraint()), m.getConstraint());
			}
		});
	}

	static void setup() throws SQLException {
		try (Connection a = connect(env("PGDATABASE", "postgres"), "")) {
			exec(a, "DROP DATABASE IF EXISTS \"" + DB + "\"", "CREATE DATABASE \"" + DB + "\"");
		}
		try (Connection c = connect(DB, "")) {
			exec(c,
				"CREATE EXTENSION pipeline",
				"CREATE TABLE public.deals (id integer PRIMARY KEY, name text, amount numeric(12,2), stage pipeline.stage NOT NULL)",
				"SELECT pipeline.attach('public.deals')",
				"INSERT INTO public.deals VALUES (1, 'Acme', 100, 'lead_generation'), (2, 'Globex', 200, 'prospecting'), "
					+ "(3, 'Initech', 300, 'prospecting')",
				"UPDATE public.deals SET stage = 'prospecting' WHERE id = 1",
				"UPDATE public.deals SET stage = 'qualification' WHERE id = 2",
				"UPDATE public.deals SET stage = 'closed_lost' WHERE id = 3",
				"SELECT pipeline.set_rotting_after('pipeline.stage', 'qualification', '1 microsecond')",
				"CREATE TYPE public.ticket_state AS ENUM ('new', 'triaged', 'rejected', 'done')",
				"SELECT pipeline.define_stages('public.ticket_state', won => '{done}', lost => '{rejected}')",
				"CREATE TABLE public.tickets (code text PRIMARY KEY, status public.ticket_state NOT NULL)",
				"SELECT pipeline.attach('public.tickets', 'status')",
				"INSERT INTO public.tickets VALUES ('T-1', 'new')",
				"SELECT pg_sleep(0.01)");
		}
	}

	static void teardown() throws SQLException {
		try (Connection a = connect(env("PGDATABASE", "postgres"), "")) {
			exec(a, "DROP DATABASE IF EXISTS \"" + DB + "\" WITH (FORCE)");
		}
	}

	public static void main(String[] args) throws Exception {
		int passed = 0, failed = 0;
		try {
			setup();
		} catch (Exception e) {
			e.printStackTrace(System.out);
			System.out.println("0 passed, 1 failed");
			System.exit(1);
		}
		try {
			for (Map.Entry<String, Test> t : TESTS.entrySet()) {
				try (Connection c = connect(DB, "")) {
					t.getValue().run(c);
					passed++;
					System.out.println("ok   jdbc " + t.getKey());
				} catch (Throwable e) {
					failed++;
					System.out.println("FAIL jdbc " + t.getKey());
					e.printStackTrace(System.out);
				}
			}
		} finally {
			teardown();
		}
		System.out.println(passed + " passed, " + failed + " failed");
		System.exit(failed == 0 ? 0 : 1);
	}
}
