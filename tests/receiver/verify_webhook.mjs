// The spec page's verifyWebhook, copied as published with only the TypeScript types removed.
// Reads {"payload", "signature", "secret"} as JSON on stdin; prints `true`, `false` or `threw: <message>`.
import crypto from 'crypto';

function verifyWebhook(payload, signature, secret) {
  const expected = crypto
    .createHmac('sha256', secret)
    .update(payload)
    .digest('hex');

  return crypto.timingSafeEqual(
    Buffer.from(signature),
    Buffer.from(`sha256=${expected}`)
  );
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const cases = JSON.parse(input);
  const results = cases.map(({ payload, signature, secret }) => {
    try {
      return String(verifyWebhook(payload, signature, secret));
    } catch (err) {
      return `threw: ${err.message}`;
    }
  });
  process.stdout.write(JSON.stringify(results));
});
