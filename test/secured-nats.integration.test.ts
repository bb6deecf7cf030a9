import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { encodeAccount, encodeOperator, encodeUser, fmtCreds } from "@nats-io/jwt";
import { createAccount, createOperator, createUser } from "@nats-io/nkeys";
import { freePort, startNatsServer, type RunningNatsServer } from "../src/server/nats-server.js";
import { adminPermissions, serviceInboxPrefix, servicePermissions, type Permissions } from "../src/security/permissions.js";
import { runCli } from "./support/cli.js";
import { spawnServe, type ServeProcess } from "./support/serve.js";
import { jetstreamManager } from "@nats-io/jetstream";
import { streamName } from "../src/events/subjects.js";
import { connectNats } from "../src/protocol/connection.js";
import { PurserClient } from "../src/client/purser-client.js";
import { tempDir } from "./support/nats.js";
import { eventually } from "./support/assertions.js";

/**
 * purser against an operator's own nats-server, secured as operators secure
 * them: user/password over TLS (a CA made with openssl), and decentralised
 * JWT auth with creds files (keys and JWTs made with the NATS libraries).
 * Both run the real `purser serve --server …` and the CLI with flags only.
 */
const servicePassword = "svc-pw-0x5ecret";
const adminPassword = "adm-pw-0x5ecret";

/** A nats-server with `body` added to a config naming its port and store (its own, not infra/nats.conf). */
async function startOwnNats(dir: string, body: string): Promise<RunningNatsServer> {
  const port = await freePort();
  const store = join(dir, "store");
  const conf = join(dir, "nats.conf");
  writeFileSync(conf, `port: ${port}\nhost: 127.0.0.1\nmax_payload: 1MB\njetstream { store_dir: ${JSON.stringify(store)} }\n${body}\n`);
  return startNatsServer({ storeDir: store, storeDirInConfig: true, port, configFile: conf });
}

/** A real `purser serve --server …` with the given connection flags; resolves on its ready line. */
function startServeOn(args: readonly string[], dataDir: string, env: Record<string, string> = {}, serveArgs: readonly string[] = []): Promise<ServeProcess> {
  return spawnServe([...args, "serve", "--data-dir", dataDir, "--gc-manual", ...serveArgs], { NATS_URL: "", PURSER_CONTEXT: join(dataDir, "no-context.json"), ...env });
}

const asConfig = (p: Permissions) => JSON.stringify({ publish: p.publish, subscribe: p.subscribe });

describe("purser on an operator's own secured NATS", () => {
  describe("user and password over TLS", () => {
    const dir = tempDir("purser-tls-");
    let nats: RunningNatsServer;
    let serve: ServeProcess;
    let url: string;
    const ca = join(dir.path, "ca.pem");

    before(async () => {
      const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir.path, stdio: "pipe" });
      openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=purser-test-ca");
      openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1");
      // nats.js verifies an upgraded socket as "localhost" when the URL names an IP address.
      writeFileSync(join(dir.path, "san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
      openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "san.ext");
      nats = await startOwnNats(
        dir.path,
        `tls { cert_file: ${JSON.stringify(join(dir.path, "server.pem"))}, key_file: ${JSON.stringify(join(dir.path, "server.key"))} }
authorization { users = [
  { user: purser, password: ${JSON.stringify(servicePassword)}, permissions: ${asConfig(servicePermissions())} }
  { user: admin, password: ${JSON.stringify(adminPassword)}, permissions: ${asConfig(adminPermissions())} }
] }`,
      );
      url = nats.url.replace("nats://", "tls://");
      // The service's password in the URL (user info), the CA as a flag.
      serve = await startServeOn(["--server", url.replace("tls://", `tls://purser:${servicePassword}@`), "--tls-ca", ca, "--inbox-prefix", serviceInboxPrefix], join(dir.path, "data"));
    });
    after(async () => {
      await serve?.stop();
      await nats?.stop();
      dir.remove();
    });

    test("serve connects with the URL's user info and never shows the password", () => {
      assert.match(serve.stdout(), new RegExp(`ready: NATS ${url.replace(/[.]/g, "\\.")}, data `));
      assert.ok(!serve.stdout().includes(servicePassword), serve.stdout());
    });

    test("the CLI with --user, NATS_PASSWORD and --tls-ca works as the admin", async () => {
      const cli = (...args: string[]) => runCli(url, ["--user", "admin", "--tls-ca", ca, ...args], { NATS_PASSWORD: adminPassword });
      const created = await cli("ns", "create", "secured", "k=v");
      assert.equal(created.stderr, "");
      assert.equal((await cli("ns", "ls")).stdout, "NAME    LABELS \nsecured k=v    \n");
      const tenants = await cli("tenants", "add", "x", "secured", "-o", dir.path);
      assert.equal(
        tenants.stderr,
        "purser: tenants are admitted by the embedded nats-server's configuration; with --server, grant the permissions of docs/security.md in your NATS server instead: failed precondition\n",
      );
    });

    test("a wrong password, and a server certificate nobody vouches for, are refused without echoing secrets", async () => {
      const wrong = await runCli(url, ["--user", "admin", "--tls-ca", ca, "ns", "ls"], { NATS_PASSWORD: "not-the-password" });
      assert.equal(wrong.stderr, `purser: cannot connect to NATS at ${url}: Authorization Violation: unavailable\n`);
      const untrusted = await runCli(url.replace("tls://", `tls://admin:${adminPassword}@`), ["ns", "ls"]);
      assert.equal(untrusted.code, 1);
      assert.match(untrusted.stderr, new RegExp(`^purser: cannot connect to NATS at ${url.replace(/[.]/g, "\\.")}: .*: unavailable\\n$`));
      assert.ok(!untrusted.stderr.includes(adminPassword), untrusted.stderr);
    });
  });

  describe("a 3-node cluster with credentials (users on every node, authenticated routes)", () => {
    const dir = tempDir("purser-cluster-");
    const nodes: RunningNatsServer[] = [];
    let serve: ServeProcess;
    let urls: string[] = [];

    before(async () => {
      const client = await Promise.all([0, 1, 2].map(() => freePort()));
      const routes = await Promise.all([0, 1, 2].map(() => freePort()));
      const routeUrls = routes.map((p) => `nats://route:route-pw@127.0.0.1:${p}`);
      const users = `authorization { users = [
  { user: purser, password: ${JSON.stringify(servicePassword)}, permissions: ${asConfig(servicePermissions())} }
  { user: admin, password: ${JSON.stringify(adminPassword)}, permissions: ${asConfig(adminPermissions())} }
] }`;
      const started = [0, 1, 2].map(async (i) => {
        const nodeDir = join(dir.path, `n${i}`);
        mkdirSync(nodeDir);
        const store = join(nodeDir, "store");
        const conf = join(nodeDir, "nats.conf");
        writeFileSync(
          conf,
          `server_name: n${i}\nport: ${client[i]}\nhost: 127.0.0.1\njetstream { store_dir: ${JSON.stringify(store)} }\n` +
            `cluster { name: purser-test, listen: "127.0.0.1:${routes[i]}", authorization { user: route, password: route-pw }, routes: ${JSON.stringify(routeUrls)} }\n${users}\n`,
        );
        return startNatsServer({ storeDir: store, storeDirInConfig: true, port: client[i]!, configFile: conf });
      });
      nodes.push(...(await Promise.all(started)));
      urls = nodes.map((n) => n.url);
      // The nodes meet and elect a JetStream meta leader; until then the JetStream API does not answer.
      const admin = await connectNats({ servers: urls.join(","), user: "admin", password: adminPassword }, {});
      try {
        const answers = () =>
          jetstreamManager(admin)
            .then((jsm) => jsm.getAccountInfo())
            .then(
              () => true,
              () => false,
            );
        await eventually(answers, "the cluster's JetStream to answer", 60_000);
      } finally {
        await admin.close();
      }
      serve = await startServeOn(
        ["--server", urls.slice(0, 2).join(","), "--user", "purser", "--inbox-prefix", serviceInboxPrefix],
        join(dir.path, "data"),
        {
          NATS_PASSWORD: servicePassword,
        },
        ["--replicas", "3"],
      );
    });
    after(async () => {
      await serve?.stop();
      await Promise.all(nodes.map((n) => n.stop()));
      dir.remove();
    });

    test("serve (R3 streams) and the CLI on another node work with passwords from the environment", async () => {
      const cli = (...args: string[]) => runCli(urls[2]!, ["--user", "admin", ...args], { NATS_PASSWORD: adminPassword });
      // A JetStream cluster elects its meta leader after the nodes meet: until then a command is Unavailable.
      const deadline = Date.now() + 60_000;
      let created = await cli("ns", "create", "clustered", "r=3");
      while (created.code !== 0 && /unavailable\n$/.test(created.stderr) && Date.now() < deadline) created = await cli("ns", "create", "clustered", "r=3");
      assert.equal(created.stderr, "");
      assert.equal((await cli("ns", "ls")).stdout, "NAME      LABELS \nclustered r=3    \n");
      assert.ok(!serve.stdout().includes(servicePassword));
      const admin = await connectNats({ servers: urls[1]!, user: "admin", password: adminPassword }, {});
      try {
        const info = await (await jetstreamManager(admin)).streams.info(streamName("clustered"));
        assert.equal(info.config.num_replicas, 3);
      } finally {
        await admin.close();
      }
      // The first writes into a new R3 namespace, all at once: the stream has a leader before any is tried.
      const client = await PurserClient.connect({ servers: urls[2]!, user: "admin", password: adminPassword }, "admin");
      try {
        const target = { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: `sha256:${"c".repeat(64)}`, size: 1 };
        const writes = await Promise.allSettled(Array.from({ length: 16 }, (_, i) => client.images.create("fresh-r3", { name: `img-${i}`, target })));
        assert.deepEqual(writes.filter((w) => w.status === "rejected").map((w) => String((w as PromiseRejectedResult).reason)), []);
      } finally {
        await client.close();
      }
    });
  });

  describe("decentralised auth: operator, account and creds files", () => {
    const dir = tempDir("purser-creds-");
    let nats: RunningNatsServer;
    let serve: ServeProcess;
    const adminCreds = join(dir.path, "admin.creds");

    before(async () => {
      const operator = createOperator();
      const account = createAccount();
      const operatorJwt = await encodeOperator("purser-test-operator", operator);
      const accountJwt = await encodeAccount(
        "PURSER",
        account,
        { limits: { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 } },
        { signer: operator },
      );
      const issue = async (name: string, p: Permissions, file: string) => {
        const user = createUser();
        const jwt = await encodeUser(name, user, account, { pub: { allow: p.publish.allow, deny: p.publish.deny ?? [] }, sub: { allow: p.subscribe.allow, deny: [] } });
        writeFileSync(file, fmtCreds(jwt, user), { mode: 0o600 });
      };
      await issue("service", servicePermissions(), join(dir.path, "service.creds"));
      await issue("admin", adminPermissions(), adminCreds);
      // JetStream in operator mode needs a system account.
      const system = createAccount();
      const systemJwt = await encodeAccount("SYS", system, {}, { signer: operator });
      nats = await startOwnNats(
        dir.path,
        `operator: ${JSON.stringify(operatorJwt)}\nsystem_account: ${system.getPublicKey()}\nresolver: MEMORY\n` +
          `resolver_preload: { ${account.getPublicKey()}: ${JSON.stringify(accountJwt)}, ${system.getPublicKey()}: ${JSON.stringify(systemJwt)} }`,
      );
      serve = await startServeOn(["--server", nats.url, "--creds", join(dir.path, "service.creds"), "--inbox-prefix", serviceInboxPrefix], join(dir.path, "data"));
    });
    after(async () => {
      await serve?.stop();
      await nats?.stop();
      dir.remove();
    });

    test("serve and the CLI authenticate with --creds (and NATS_CREDS); without creds the server refuses", async () => {
      const created = await runCli(nats.url, ["--creds", adminCreds, "ns", "create", "jwt-ns"]);
      assert.equal(created.stderr, "");
      assert.equal((await runCli(nats.url, ["ns", "ls"], { NATS_CREDS: adminCreds })).stdout, "NAME   LABELS \njwt-ns        \n");
      const anonymous = await runCli(nats.url, ["ns", "ls"]);
      assert.equal(anonymous.stderr, `purser: cannot connect to NATS at ${nats.url}: Authorization Violation: unavailable\n`);
    });
  });
});
