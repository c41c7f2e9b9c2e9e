// The Express example of the published webhooks page, run without npm packages (node's http module stands in
// for Express): `express.json()` parses the body into `req.body`, and the page's handler verifies THAT.
//
//   node spec_express_receiver.mjs SECRET_FILE    prints the port it listens on (127.0.0.1), then serves:
//   /as-written  the page's code: verifySignature(req.body, …) hands the parsed object to HMAC update(), which
//                throws; Express's default error handler answers 500 (what the page's example does to every
//                delivery)
//   /stringify   the usual patch: HMAC over JSON.stringify(req.body); 401 'Invalid signature' when the bytes
//                differ from what was signed, 200 otherwise
//   /raw         the fixed version of docs/webhooks.md: HMAC over the raw bytes; 200 when they check out
// The secret is read from SECRET_FILE on each request (an endpoint's secret exists only once it is saved).
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';

const secretFile = process.argv[2];

// The page's verifyWebhook, verbatim (it throws on a missing or shorter header; kept as it is).
function verifySignature(payload, signature, secret) {
  const expected = crypto.createHmac('sha256', secret).update(payload).digest('hex');
  return crypto.timingSafeEqual(Buffer.from(signature), Buffer.from(`sha256=${expected}`));
}

function handle(path, raw, headers) {
  const secret = fs.readFileSync(secretFile, 'utf8').trim();
  const signature = headers['x-gitproductivity-signature'];
  const body = JSON.parse(raw.toString('utf8')); // express.json()
  let ok;
  if (path === '/as-written') ok = verifySignature(body, signature, secret);
  else if (path === '/stringify') ok = verifySignature(JSON.stringify(body), signature, secret);
  else ok = verifySignature(raw, signature, secret);
  return ok ? [200, { received: true }] : [401, { error: 'Invalid signature' }];
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let status;
    let answer;
    try {
      [status, answer] = handle(req.url, Buffer.concat(chunks), req.headers);
    } catch (err) {
      [status, answer] = [500, { error: `Internal Server Error: ${err.message}` }]; // Express's error handler
    }
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(answer));
  });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
