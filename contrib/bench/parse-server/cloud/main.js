// Cloud code of the Parse Server peer: the same functions mist's test
// plugin offers the gateway, so one scenario and one benchmark fit both.
//
//   hello {name}  -> {"hello": <name>}        (case C: a trivial add-on function;
//                    the answer of tests/plugins/testfns.c's hello)
//   echo  {...}   -> the params, unchanged
//   read1 {id}    -> the Item with that objectId, read as the caller (its
//                    session token, so the object's ACL applies)   (case B)

Parse.Cloud.define('hello', (req) => ({ hello: req.params.name }));

Parse.Cloud.define('echo', (req) => req.params);

Parse.Cloud.define('read1', async (req) => {
  const q = new Parse.Query(req.params.cls || 'Item');
  const opts = req.user ? { sessionToken: req.user.getSessionToken() } : {};
  return q.get(req.params.id, opts);
});

// The trigger of tests/sdk/scenario.js, as examples/addon/triggers.c
// writes it for mist: a GameScore needs a playerName, its score is clamped
// to 1000, and it is marked checked.
Parse.Cloud.beforeSave('GameScore', (req) => {
  const o = req.object;
  if (!req.original && !o.get('playerName')) throw 'a GameScore needs a playerName';
  const score = o.get('score');
  if (typeof score === 'number' && score > 1000) o.set('score', 1000);
  if (typeof score === 'number' && score < 0) o.set('score', 0);
  o.set('checked', true);
});
