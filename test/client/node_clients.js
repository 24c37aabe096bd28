// Client tests through node-postgres (`pg` on npm), as Node applications
// and BI back ends use it: the views listed and read with the types pg
// gives, the aggregates, the rule helpers with bound parameters, and the
// 23514 with its fields.
//
// Runs against the server named by the PG* environment variables, in a
// database of its own that it creates and drops.  Prints one line per test
// and a final "N passed, M failed"; exits non-zero on any failure.
'use strict';
const assert = require('assert');
const { Client } = require('pg');

const DB = `pipeline_node_${process.pid}`;
const tests = [];
const test = (name, fn) => tests.push([name, fn]);

async function connect(database) {
	const c = new Client({ database });
	await c.connect();
	return c;
}

const VIEWS = {
	'pipeline.stage_catalog': ['stage_type', 'stage', 'ordinal', 'kind', 'probability', 'is_entry',
		'rotting_after', 'rotting_after_days'],
	'pipeline.transition_rules': ['stage_type', 'ruleset', 'from_stage', 'to_stage'],
	'pipeline.attachments': ['table_name', 'stage_column', 'ruleset', 'history_table', 'entered_at_column'],
	'public.deals_stage_visits': ['id', 'stage', 'ordinal', 'entered_at', 'exited_at', 'time_in_stage',
		'time_in_stage_days', 'is_current'],
	'public.deals_stage_durations': ['stage', 'ordinal', 'visits', 'avg_time', 'avg_days', 'median_time',
		'median_days', 'p90_time', 'p90_days'],
	'public.deals_rotting': ['id', 'stage', 'entered_at', 'time_in_stage', 'time_in_stage_days',
		'rotting_after', 'rotting_after_days'],
	'public.deals_funnel': ['stage', 'ordinal', 'reached', 'reached_amount', 'conversion_from_previous',
		'conversion_from_first'],
};

test('views_listed_with_their_columns', async (c) => {
	const r = await c.query(`SELECT table_schema || '.' || table_name AS v FROM information_schema.views
							  WHERE table_schema IN ('pipeline', 'public')`);
	const listed = new Set(r.rows.map((x) => x.v));
	for (const v of Object.keys(VIEWS))
		assert(listed.has(v), `${v} not listed`);
	for (const [v, cols] of Object.entries(VIEWS)) {
		const q = await c.query(`SELECT * FROM ${v} LIMIT 0`);
		assert.deepStrictEqual(q.fields.map((f) => f.name), cols, v);
	}
});

test('views_read_with_js_types', async (c) => {
	for (const v of Object.keys(VIEWS)) {
		const q = await c.query(`SELECT * FROM ${v}`);
		assert(q.rows.length > 0, `${v} is empty`);
		for (const row of q.rows)
			for (const [k, x] of Object.entries(row)) {
				if (x === null)
					continue;
				if (k.endsWith('_days') || k.startsWith('conversion_'))
					assert.strictEqual(typeof x, 'number', `${v}.${k}`);
				if (k === 'ordinal' || k === 'id')
					assert.strictEqual(typeof x, 'number', `${v}.${k}`);
				if (k === 'stage' || k === 'stage_type')
					assert.strictEqual(typeof x, 'string', `${v}.${k}`);
				if (k === 'is_current' || k === 'is_entry')
					assert.strictEqual(typeof x, 'boolean', `${v}.${k}`);
				if (k === 'entered_at' || k === 'exited_at')
					assert(x instanceof Date, `${v}.${k}`);
				// bigint and numeric arrive as strings: JavaScript numbers cannot hold them all
				if (k === 'reached' || k === 'visits' || k === 'reached_amount' || k === 'probability')
					assert.strictEqual(typeof x, 'string', `${v}.${k}`);
			}
	}
	const d = await c.query('SELECT avg_time, avg_days FROM public.deals_stage_durations');
	for (const r of d.rows) {
		const iv = r.avg_time;	// a PostgresInterval object
		const days = (iv.days || 0) + (iv.hours || 0) / 24 + (iv.minutes || 0) / 1440
			+ (iv.seconds || 0) / 86400 + (iv.milliseconds || 0) / 86400000;
		assert((iv.hours || 0) < 24, 'not justified');
		assert(Math.abs(days - r.avg_days) < 1e-9, `${JSON.stringify(iv)} vs ${r.avg_days}`);
	}
});

test('aggregates_run', async (c) => {
	const r = await c.query(`SELECT pipeline.win_rate(stage) AS w, pipeline.weighted_pipeline(stage, amount) AS p,
									pipeline.funnel(stage) AS f, pipeline.furthest_stage(stage)::text AS s
							   FROM public.deals`);
	const row = r.rows[0];
	assert.strictEqual(typeof row.w, 'number');
	assert.strictEqual(typeof row.p, 'string');
	assert(Array.isArray(row.f) && row.f.length === 8, JSON.stringify(row.f));
	assert.strictEqual(typeof row.s, 'string');
});

test('rule_helpers_take_bound_parameters', async (c) => {
	let r = await c.query('SELECT pipeline.allowed_moves($1, $2) AS m', ['public.deals', 'proposal']);
	assert.deepStrictEqual(r.rows[0].m, ['negotiation', 'closed_lost']);
	r = await c.query('SELECT pipeline.allowed_moves($1, $2) AS m', ['public.deals', null]);
	assert.deepStrictEqual(r.rows[0].m, ['lead_generation', 'prospecting']);
	r = await c.query('SELECT pipeline.can_move($1, $2, $3, $4) AS ok', ['public.tickets', 'new', 'triaged', 'status']);
	assert.strictEqual(r.rows[0].ok, true);
	r = await c.query('SELECT pipeline.can_move($1, $2, $3) AS ok', ['public.deals', 'proposal', 'closed_won']);
	assert.strictEqual(r.rows[0].ok, false);
	// The enum array of next_stages arrives as a string; allowed_moves as an array.
	r = await c.query(`SELECT pipeline.next_stages('proposal'::pipeline.stage) AS n`);
	assert.strictEqual(r.rows[0].n, '{negotiation,closed_lost}');
	await assert.rejects(c.query('SELECT pipeline.next_stages($1)', ['proposal']), (e) => e.code === '42883');
	await assert.rejects(c.query('SELECT pipeline.can_move($1, $2, $3)', ['public.deals', 'proposal', 'won']),
		(e) => e.code === '22P02');
	await assert.rejects(c.query('SELECT pipeline.allowed_moves($1, $2)', ['pipeline.stage_types', 'proposal']),
		(e) => e.code === '42704');
	// Untyped parameters reach the enum column itself.
	r = await c.query('SELECT count(*)::int AS n FROM public.deals WHERE stage = $1', ['prospecting']);
	assert(r.rows[0].n >= 1);
});

test('illegal_move_is_check_violation_with_fields', async (c) => {
	await assert.rejects(c.query('UPDATE public.deals SET stage = $1 WHERE id = $2', ['closed_won', 2]), (e) => {
		assert.strictEqual(e.code, '23514');
		assert.strictEqual(e.message, 'illegal stage transition from "qualification" to "closed_won"');
		assert(e.detail.includes('Allowed from "qualification": initial_contact, closed_lost.'), e.detail);
		assert(e.hint && e.hint.includes('ruleset'), e.hint);
		assert.strictEqual(e.schema, 'public');
		assert.strictEqual(e.table, 'deals');
		assert.strictEqual(e.column, 'stage');
		assert.strictEqual(e.constraint, 'zz_pipeline_enforce_stage');
		return true;
	});
});

async function main() {
	let passed = 0, failed = 0;
	const admin = await connect(process.env.PGDATABASE || 'postgres');
	await admin.query(`DROP DATABASE IF EXISTS "${DB}"`);
	await admin.query(`CREATE DATABASE "${DB}"`);
	try {
		const c = await connect(DB);
		for (const sql of [
			'CREATE EXTENSION pipeline',
			'CREATE TABLE public.deals (id integer PRIMARY KEY, amount numeric(12,2), stage pipeline.stage NOT NULL)',
			`SELECT pipeline.attach('public.deals')`,
			`INSERT INTO public.deals VALUES (1, 100, 'lead_generation'), (2, 200, 'prospecting'), (3, 300, 'prospecting')`,
			`UPDATE public.deals SET stage = 'prospecting' WHERE id = 1`,
			`UPDATE public.deals SET stage = 'qualification' WHERE id = 2`,
			`UPDATE public.deals SET stage = 'closed_lost' WHERE id = 3`,
			`SELECT pipeline.set_rotting_after('pipeline.stage', 'qualification', '1 microsecond')`,
			`CREATE TYPE public.ticket_state AS ENUM ('new', 'triaged', 'rejected', 'done')`,
			`SELECT pipeline.define_stages('public.ticket_state', won => '{done}', lost => '{rejected}')`,
			'CREATE TABLE public.tickets (code text PRIMARY KEY, status public.ticket_state NOT NULL)',
			`SELECT pipeline.attach('public.tickets', 'status')`,
			'SELECT pg_sleep(0.01)'])
			await c.query(sql);
		await c.end();
		for (const [name, fn] of tests) {
			const conn = await connect(DB);
			try {
				await fn(conn);
				passed++;
				console.log(`ok   node ${name}`);
			} catch (e) {
				failed++;
				console.log(`FAIL node ${name}`);
				console.log(e && e.stack || e);
			} finally {
				await conn.end();
			}
		}
	} finally {
		await admin.query(`DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`);
		await admin.end();
	}
	console.log(`${passed} passed, ${failed} failed`);
	process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.log(e && e.stack || e); console.log('0 passed, 1 failed'); process.exit(1); });
