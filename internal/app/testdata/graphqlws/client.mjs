// A graphql-ws client of a started `cdp serve` in open mode, run by the Go
// test TestGraphQLWSClient: it subscribes to profileChanged and changes,
// commits an event, a merge and a consent decision, then reconnects with
// its last cursor, and prints what it saw as JSON on stdout.
//
// CDP_ADDR is the server's host:port.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const addr = process.env.CDP_ADDR;
if (!addr) throw new Error('CDP_ADDR is not set');
const http = `http://${addr}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function gql(query) {
  const r = await fetch(`${http}/graphql`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }),
  });
  const j = await r.json();
  if (j.errors) throw new Error(`${query}: ${JSON.stringify(j.errors)}`);
  return j.data;
}

async function track(messageId, ids) {
  const r = await fetch(`${http}/v1/track`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messageId, event: 'Viewed', ...ids }),
  });
  if (r.status !== 200) throw new Error(`track ${messageId}: ${r.status} ${await r.text()}`);
}

async function profileOf(type, value) {
  const d = await gql(`{ profileByIdentifier(type: ${JSON.stringify(type)}, value: ${JSON.stringify(value)}) { id } }`);
  return d.profileByIdentifier.id;
}

// waitActive waits until the server holds n subscriptions (each has then
// read the feed's head it starts from), through its metrics.
async function waitActive(n) {
  for (let i = 0; i < 3000; i++) {
    const text = await (await fetch(`${http}/metrics`)).text();
    const m = text.match(/^cdp_subscriptions_active (\d+)/m);
    if (m && Number(m[1]) === n) return;
    await sleep(10);
  }
  throw new Error(`the server never held ${n} subscriptions`);
}

function connect() {
  return createClient({ url: `ws://${addr}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
}

// collect resolves with the first count results of query's subscription,
// which it then stops.
function collect(client, query, field, count) {
  return new Promise((resolve, reject) => {
    const got = [];
    const stop = client.subscribe({ query }, {
      next: (r) => {
        if (r.errors) { reject(new Error(JSON.stringify(r.errors))); return; }
        got.push(r.data[field]);
        if (got.length === count) { stop(); resolve(got); }
      },
      error: (e) => reject(e instanceof Error ? e : new Error(JSON.stringify(e))),
      complete: () => { if (got.length < count) reject(new Error(`${field} completed after ${got.length} results`)); },
    });
  });
}

const fields = 'cursor kind at profileId previousIds eventId';
const names = {};
const short = (c) => {
  const n = (id) => (id == null ? '-' : names[id] ?? id);
  return `${c.kind} ${n(c.profileId)} [${c.previousIds.map(n).join(' ')}] ${n(c.eventId)}`;
};

await track('n1', { anonymousId: 'anon-0' });
names[await profileOf('anonymous_id', 'anon-0')] = 'P1';

const client = connect();
const followed = collect(client,
  `subscription { profileChanged(identifier: {type: "anonymous_id", value: "anon-0"}) { ${fields} } }`, 'profileChanged', 4);
const feed = collect(client, `subscription { changes { ${fields} } }`, 'changes', 5);
await waitActive(2);

await track('n2', { anonymousId: 'anon-0' });
await track('n3', { anonymousId: 'anon-2', userId: 'u-2' });
names[await profileOf('user_id', 'u-2')] = 'P2';
await track('n4', { anonymousId: 'anon-0', userId: 'u-2' }); // merges P1 into P2
await gql('mutation { setConsent(input: {identifier: {type: "anonymous_id", value: "anon-0"}, purpose: "email", status: GRANTED}) { id } }');
const profile = await followed;
const changes = await feed;
await client.dispose();
await waitActive(0);

// Missed while away, then live after reconnecting with the last cursor.
await track('n5', { anonymousId: 'anon-9' });
await track('n6', { anonymousId: 'anon-0' });
names[await profileOf('anonymous_id', 'anon-9')] = 'P9';
const again = connect();
const resumed = collect(again,
  `subscription { changes(after: ${JSON.stringify(changes[changes.length - 1].cursor)}) { ${fields} } }`, 'changes', 3);
await track('n7', { anonymousId: 'anon-0' });
const back = await resumed;
await again.dispose();

process.stdout.write(JSON.stringify({
  profileChanged: profile.map(short), changes: changes.map(short), resumed: back.map(short),
}) + '\n');
