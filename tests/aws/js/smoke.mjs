// JS SDK v3 smoke test against a Coffer node. Endpoint, credentials and
// region come from the environment (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_REGION); COFFER_SMOKE_NAME names the secret.
// Prints one JSON object on stdout; tests/aws/test_aws_js.py checks it.
import {
  SecretsManagerClient,
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ListSecretsCommand,
  BatchGetSecretValueCommand,
  DeleteSecretCommand,
} from "@aws-sdk/client-secrets-manager";

const env = process.env;
const client = new SecretsManagerClient({
  endpoint: env.AWS_ENDPOINT_URL,
  region: env.AWS_REGION || env.AWS_DEFAULT_REGION,
  credentials: {
    accessKeyId: env.AWS_ACCESS_KEY_ID,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
  },
  maxAttempts: 2,
  requestHandler: { connectionTimeout: 3000, requestTimeout: 10000 },
});

const name = env.COFFER_SMOKE_NAME || `js-smoke-${Date.now()}`;
const strip = ({ $metadata, ...rest }) => ({ ...rest, requestId: $metadata.requestId,
  httpStatusCode: $metadata.httpStatusCode });
const out = { name };

out.create = strip(await client.send(new CreateSecretCommand({
  Name: name, SecretString: "js-v1", Description: "from the JS SDK",
  Tags: [{ Key: "sdk", Value: "js" }],
})));
out.get1 = strip(await client.send(new GetSecretValueCommand({ SecretId: name })));
out.put = strip(await client.send(new PutSecretValueCommand({
  SecretId: out.create.ARN, SecretBinary: new Uint8Array([0, 1, 2, 255]),
})));
const get2 = await client.send(new GetSecretValueCommand({ SecretId: name }));
out.get2 = { ...strip(get2), SecretBinary: Array.from(get2.SecretBinary) };
out.list = strip(await client.send(new ListSecretsCommand({
  Filters: [{ Key: "name", Values: [name] }], MaxResults: 10,
})));
out.batch = strip(await client.send(new BatchGetSecretValueCommand({
  SecretIdList: [name, `${name}-missing`],
})));
out.batch.SecretValues = out.batch.SecretValues.map((v) => ({
  ...v, SecretBinary: v.SecretBinary ? Array.from(v.SecretBinary) : undefined,
}));
out.delete = strip(await client.send(new DeleteSecretCommand({
  SecretId: name, ForceDeleteWithoutRecovery: true,
})));
try {
  await client.send(new GetSecretValueCommand({ SecretId: name }));
  out.afterDelete = { error: null };
} catch (e) {
  out.afterDelete = { error: e.name, message: e.message, status: e.$metadata?.httpStatusCode,
    fault: e.$fault };
}
process.stdout.write(JSON.stringify(out, (k, v) => (v instanceof Date ? v.toISOString() : v)));
process.stdout.write("\n");
