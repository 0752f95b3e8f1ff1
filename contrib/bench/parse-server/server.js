// Parse Server (npm parse-server, the version package.json pins) on
// PostgreSQL, mounted on /parse, as one Node.js process: the peer of mist's
// gateway.  Configured by the environment (lib.sh sets it):
//   PARSE_PORT PARSE_APP_ID PARSE_REST_KEY PARSE_JS_KEY PARSE_MASTER_KEY
//   PARSE_DATABASE_URI PARSE_CLOUD PARSE_LOGS
//   PARSE_LOG_LEVEL        default "warn": per-request info lines (every
//                          cloud function call is logged at info) would
//                          charge Parse for console output mist does not do
//   PARSE_CLIENT_CLASS_CREATION  "1" to let clients create classes (Parse 9
//                          defaults to false, as mist does; default here: 0)
'use strict';
const express = require('express');
const { ParseServer } = require('parse-server');

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`server.js: ${name} is not set`);
    process.exit(2);
  }
  return v;
}

async function main() {
  const port = Number(need('PARSE_PORT'));
  const config = {
    appId: need('PARSE_APP_ID'),
    masterKey: need('PARSE_MASTER_KEY'),
    restAPIKey: need('PARSE_REST_KEY'),
    javascriptKey: need('PARSE_JS_KEY'),
    databaseURI: need('PARSE_DATABASE_URI'),
    cloud: need('PARSE_CLOUD'),
    logsFolder: need('PARSE_LOGS'),
    serverURL: `http://127.0.0.1:${port}/parse`,
    mountPath: '/parse',
    logLevel: process.env.PARSE_LOG_LEVEL || 'warn',
    allowClientClassCreation: process.env.PARSE_CLIENT_CLASS_CREATION === '1',
    masterKeyIps: ['127.0.0.1', '::1'],
  };
  const server = new ParseServer(config);
  await server.start();
  const app = express();
  app.use('/parse', server.app);
  const http = app.listen(port, '127.0.0.1', () => {
    console.log(`parse-server listening on 127.0.0.1:${port}`);
  });
  // keep-alive connections must outlive the benchmark's pauses
  http.keepAliveTimeout = 120000;
  http.headersTimeout = 121000;
  const stop = () => http.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => {
  console.error('server.js:', e);
  process.exit(1);
});
