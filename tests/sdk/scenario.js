#!/usr/bin/env node
// The official Parse JS SDK (npm "parse", node build) driven through what a
// mobile app does, against any Parse-compatible server: mist's gateway or
// Parse Server itself (tests/sdk/run-parse.sh proves it against the latter).
//
//   node scenario.js SERVER_URL APP_ID JS_KEY [MASTER_KEY]
//
//   SERVER_URL   e.g. http://127.0.0.1:8080/parse
//   MASTER_KEY   if given, the class is created first through the schema API
//                (Parse 9 and mist refuse client class creation by default);
//                without it the server must allow client class creation
//
// Environment (so one scenario fits mist's test plugin and Parse Server's
// cloud code alike):
//   SDK_FN          cloud function to call            (default "hello")
//   SDK_FN_PARAMS   its params, JSON                  (default {"name":"x"})
//   SDK_FN_EXPECT   the result expected, JSON         (default {"hello":"x"}, the
//                   answer of the test plugin's hello and of Parse's cloud code)
//   SDK_CLASS       the class the scenario writes     (default "SdkItem")
//   SDK_READ_FN     a function reading one object as its caller, params
//                   {cls, id} (default "read1": mist's tests/plugins/hostfns.c
//                   answers {status, body: the JSON}; Parse's cloud code the
//                   object itself -- both shapes are read)
//   SDK_TRIGGER     "0" skips the trigger steps; else the server runs a
//                   beforeSave on GameScore that refuses a score without a
//                   playerName ("a GameScore needs a playerName"), clamps
//                   score to 1000 and sets checked: true
//                   (examples/addon/triggers.c, the Parse peer's cloud code)
//   SDK_STEP_MS     bound on each step, ms            (default 10000)
//
// Prints "1..N" then one line per step, "ok K - what"; on the first failure
// "not ok K - what: why" and exits 1 (2 for bad arguments).  Every step is
// bounded in time, so a server that never answers fails the step instead of
// hanging the run.  The objects it made are deleted by the scenario itself
// (its delete steps); a failure half-way leaves them, under a random tag.
'use strict';

const Parse = require('parse/node');

const argv = process.argv.slice(2);
if (argv.length < 3 || argv.length > 4) {
  console.error('usage: scenario.js SERVER_URL APP_ID JS_KEY [MASTER_KEY]');
  process.exit(2);
}
const [serverURL, appId, jsKey, masterKey] = argv;

function envJSON(name, dflt) {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  try {
    return JSON.parse(v);
  } catch (e) {
    console.error(`scenario.js: ${name} is not JSON: ${e.message}`);
    process.exit(2);
  }
}
const fnName = process.env.SDK_FN || 'hello';
const fnParams = envJSON('SDK_FN_PARAMS', { name: 'x' });
const fnExpect = envJSON('SDK_FN_EXPECT', { hello: 'x' });
const cls = process.env.SDK_CLASS || 'SdkItem';
const readFn = process.env.SDK_READ_FN || 'read1';
const triggers = process.env.SDK_TRIGGER !== '0';
const stepMs = Number(process.env.SDK_STEP_MS || 10000);

Parse.initialize(appId, jsKey, masterKey);
Parse.serverURL = serverURL;
// A node process is one app's client here: let logIn/logOut keep the
// current user, as the browser and mobile SDKs do.
Parse.User.enableUnsafeCurrentUser();

// JSON with sorted keys, to compare results whatever their key order
function canon(v) {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canon(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

function check(cond, why) {
  if (!cond) throw new Error(why);
}

async function expectParseError(promise, code, what) {
  try {
    await promise;
  } catch (e) {
    check(e.code === code, `${what}: expected Parse error ${code}, got ${e.code} (${e.message})`);
    return;
  }
  throw new Error(`${what}: succeeded, expected Parse error ${code}`);
}

const steps = [];
function step(what, fn) {
  steps.push({ what, fn });
}

const tag = `run-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
const username = `sdk_${tag}`;
const password = `pw-${Math.random().toString(36).slice(2)}`;
let user;
let first;
let sessionToken;

if (masterKey) {
  step(`class ${cls} exists (schema API, master key)`, async () => {
    const schema = new Parse.Schema(cls);
    try {
      await schema.get();
    } catch (e) {
      check(e.code === Parse.Error.INVALID_CLASS_NAME || e.code === Parse.Error.OBJECT_NOT_FOUND,
        `schema get: unexpected error ${e.code} (${e.message})`);
      schema.addNumber('score').addString('tag');
      await schema.save();
    }
  });
  if (triggers) {
    step('class GameScore exists (the trigger\'s class)', async () => {
      const schema = new Parse.Schema('GameScore');
      try {
        await schema.get();
      } catch (e) {
        check(e.code === Parse.Error.INVALID_CLASS_NAME || e.code === Parse.Error.OBJECT_NOT_FOUND,
          `schema get: unexpected error ${e.code} (${e.message})`);
        schema.addString('playerName').addNumber('score').addString('tag').addBoolean('checked');
        await schema.save();
      }
    });
  }
}

step('signUp a new user', async () => {
  user = new Parse.User();
  user.set('username', username);
  user.set('password', password);
  await user.signUp();
  check(user.id, 'no objectId after signUp');
  check(user.getSessionToken(), 'no session token after signUp');
});

step('logOut', async () => {
  await Parse.User.logOut();
  check(Parse.User.current() == null, 'still a current user after logOut');
});

step('logIn', async () => {
  user = await Parse.User.logIn(username, password);
  check(user.id, 'no objectId after logIn');
  sessionToken = user.getSessionToken();
  check(sessionToken, 'no session token after logIn');
  const me = await Parse.User.me(sessionToken);
  check(me.id === user.id, `users/me says ${me.id}, logged in as ${user.id}`);
});

function owned(score) {
  const o = new Parse.Object(cls);
  o.set('score', score);
  o.set('tag', tag);
  o.setACL(new Parse.ACL(user)); // only this user reads and writes it
  return o;
}

step('save an object readable and writable by its owner only', async () => {
  first = owned(10);
  await first.save();
  check(first.id, 'no objectId after save');
  check(first.createdAt instanceof Date, 'no createdAt after save');
  const again = await new Parse.Query(cls).get(first.id);
  check(again.get('score') === 10, `read back score ${again.get('score')}, saved 10`);
  const acl = again.getACL();
  check(acl && acl.getReadAccess(user.id) && acl.getWriteAccess(user.id), 'ACL lost the owner');
  check(!acl.getPublicReadAccess() && !acl.getPublicWriteAccess(), 'ACL became public');
});

step('query: equalTo + greaterThan finds it', async () => {
  const q = new Parse.Query(cls);
  q.equalTo('tag', tag);
  q.greaterThan('score', 5);
  const r = await q.find();
  check(r.length === 1 && r[0].id === first.id, `found ${r.length} objects, expected the one saved`);
  const none = await new Parse.Query(cls).equalTo('tag', tag).greaterThan('score', 10).find();
  check(none.length === 0, `greaterThan 10 found ${none.length}, expected 0`);
});

step('update with increment', async () => {
  first.increment('score', 5);
  await first.save();
  check(first.get('score') === 15, `score ${first.get('score')} after increment, expected 15`);
  const again = await new Parse.Query(cls).get(first.id);
  check(again.get('score') === 15, `read back score ${again.get('score')}, expected 15`);
});

step(`cloud function ${fnName}`, async () => {
  const r = await Parse.Cloud.run(fnName, fnParams);
  const got = r instanceof Parse.Object ? r.toJSON() : r;
  check(canon(got) === canon(fnExpect), `${fnName} returned ${canon(got)}, expected ${canon(fnExpect)}`);
});

// what a function that read one object answered: mist's {status, body} or
// the object (Parse's cloud code); null when it was not found
function readResult(r) {
  if (r instanceof Parse.Object) return r.toJSON();
  if (r && typeof r.status === 'number') {
    if (r.status === 404) return null;
    check(r.status === 200 && typeof r.body === 'string', `${readFn} answered status ${r.status}`);
    return JSON.parse(r.body);
  }
  throw new Error(`${readFn} answered ${canon(r)}`);
}

step(`cloud function ${readFn} reads the owner's object as its caller`, async () => {
  const r = readResult(await Parse.Cloud.run(readFn, { cls, id: first.id }));
  check(r && r.objectId === first.id, `${readFn} read ${canon(r)}, expected object ${first.id}`);
  check(r.score === 15 && r.tag === tag, `${readFn} read score ${r.score}, expected 15`);
});

if (triggers) {
  step('beforeSave trigger: refuses a GameScore without a playerName, with its message', async () => {
    const g = new Parse.Object('GameScore');
    g.set('score', 10);
    g.set('tag', tag);
    try {
      await g.save();
    } catch (e) {
      check(e.code === Parse.Error.SCRIPT_FAILED, `expected code 141, got ${e.code} (${e.message})`);
      check(/needs a playerName/.test(e.message), `the trigger's message is lost: ${e.message}`);
      check(!g.id, 'a refused object got an objectId');
      return;
    }
    throw new Error('a GameScore without a playerName was saved');
  });

  step('beforeSave trigger: changes what is saved (score clamped, checked set)', async () => {
    const g = new Parse.Object('GameScore');
    g.set('playerName', username);
    g.set('score', 99999);
    g.set('tag', tag);
    await g.save();
    check(g.id, 'no objectId');
    const again = await new Parse.Query('GameScore').get(g.id);
    check(again.get('score') === 1000, `stored score ${again.get('score')}, the trigger clamps to 1000`);
    check(again.get('checked') === true, 'the trigger\'s field is missing');
    await again.destroy();
  });
}

step('batch: saveAll of 5 objects', async () => {
  const objs = [1, 2, 3, 4, 5].map(owned);
  await Parse.Object.saveAll(objs);
  check(objs.every((o) => o.id), 'an object has no objectId after saveAll');
  check(new Set(objs.map((o) => o.id)).size === 5, 'saveAll gave duplicate objectIds');
});

step('query: ascending / descending + limit', async () => {
  const asc = await new Parse.Query(cls).equalTo('tag', tag).ascending('score').limit(3).find();
  check(canon(asc.map((o) => o.get('score'))) === '[1,2,3]',
    `ascending limit 3 gave ${canon(asc.map((o) => o.get('score')))}, expected [1,2,3]`);
  const desc = await new Parse.Query(cls).equalTo('tag', tag).descending('score').limit(2).find();
  check(canon(desc.map((o) => o.get('score'))) === '[15,5]',
    `descending limit 2 gave ${canon(desc.map((o) => o.get('score')))}, expected [15,5]`);
  const mid = await new Parse.Query(cls).equalTo('tag', tag).greaterThan('score', 2)
    .lessThanOrEqualTo('score', 5).ascending('score').find();
  check(canon(mid.map((o) => o.get('score'))) === '[3,4,5]',
    `2 < score <= 5 gave ${canon(mid.map((o) => o.get('score')))}, expected [3,4,5]`);
});

step('count', async () => {
  const n = await new Parse.Query(cls).equalTo('tag', tag).count();
  check(n === 6, `count ${n}, expected 6`);
});

step('another user cannot read, update or delete them', async () => {
  await Parse.User.logOut();
  const other = new Parse.User();
  other.set('username', `${username}_other`);
  other.set('password', password);
  await other.signUp();
  check(Parse.User.current() && Parse.User.current().id === other.id, 'the other user is not the current one');
  await expectParseError(new Parse.Query(cls).get(first.id), Parse.Error.OBJECT_NOT_FOUND, 'other user get');
  // the function acts as its caller: the ACL hides the object from it too
  let seen;
  try {
    seen = readResult(await Parse.Cloud.run(readFn, { cls, id: first.id }));
  } catch (e) {
    check(e.code === Parse.Error.OBJECT_NOT_FOUND || e.code === Parse.Error.SCRIPT_FAILED,
      `${readFn} as the other user: error ${e.code} (${e.message})`);
    seen = null;
  }
  check(seen === null, `${readFn} as the other user read ${canon(seen)}`);
  const r = await new Parse.Query(cls).equalTo('tag', tag).find();
  check(r.length === 0, `the other user's find saw ${r.length} objects, expected 0`);
  const o = new Parse.Object(cls);
  o.id = first.id;
  o.set('score', 0);
  await expectParseError(o.save(), Parse.Error.OBJECT_NOT_FOUND, 'other user update');
  await expectParseError(o.destroy(), Parse.Error.OBJECT_NOT_FOUND, 'other user delete');
  await Parse.User.logOut();
});

step('an anonymous client (logged out) cannot read, update or delete them; log in again', async () => {
  check(Parse.User.current() == null, 'still a current user');
  await expectParseError(new Parse.Query(cls).get(first.id), Parse.Error.OBJECT_NOT_FOUND, 'anonymous get');
  const r = await new Parse.Query(cls).equalTo('tag', tag).find();
  check(r.length === 0, `anonymous find saw ${r.length} objects, expected 0`);
  const n = await new Parse.Query(cls).equalTo('tag', tag).count();
  check(n === 0, `anonymous count ${n}, expected 0`);
  const o = new Parse.Object(cls);
  o.id = first.id;
  o.set('score', 0);
  await expectParseError(o.save(), Parse.Error.OBJECT_NOT_FOUND, 'anonymous update');
  await expectParseError(o.destroy(), Parse.Error.OBJECT_NOT_FOUND, 'anonymous delete');
  user = await Parse.User.logIn(username, password);
  sessionToken = user.getSessionToken();
  check(sessionToken, 'no session token after logging in again');
});

step('delete: one, then the batch (destroyAll)', async () => {
  await first.destroy();
  await expectParseError(new Parse.Query(cls).get(first.id), Parse.Error.OBJECT_NOT_FOUND, 'get after delete');
  const rest = await new Parse.Query(cls).equalTo('tag', tag).find();
  check(rest.length === 5, `${rest.length} objects left, expected 5`);
  await Parse.Object.destroyAll(rest);
  const n = await new Parse.Query(cls).equalTo('tag', tag).count();
  check(n === 0, `count ${n} after delete, expected 0`);
});

step('logOut ends the session', async () => {
  await Parse.User.logOut();
  check(Parse.User.current() == null, 'still a current user after logOut');
  await expectParseError(Parse.User.become(sessionToken), Parse.Error.INVALID_SESSION_TOKEN,
    'become with the old token');
});

function bounded(p, ms) {
  let t;
  const timeout = new Promise((_, reject) => {
    t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

async function main() {
  console.log(`1..${steps.length}`);
  for (let i = 0; i < steps.length; i++) {
    const { what, fn } = steps[i];
    try {
      await bounded(fn(), stepMs);
    } catch (e) {
      const code = e && e.code !== undefined ? ` (Parse error ${e.code})` : '';
      const cause = e && e.cause ? ` (${e.cause.code || e.cause.message || e.cause})` : '';
      console.log(`not ok ${i + 1} - ${what}: ${e && e.message ? e.message : e}${code}${cause}`);
      console.error(`scenario.js: step ${i + 1} failed against ${serverURL}`);
      process.exit(1);
    }
    console.log(`ok ${i + 1} - ${what}`);
  }
  process.exit(0);
}

main();
