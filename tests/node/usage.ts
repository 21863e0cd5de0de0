// Type-checked (tsc --noEmit, by tests/run), never run: every function and
// shape of the package's TypeScript declarations used as a user would, for
// the nodejs, bundler and web targets, plus lines that must NOT type-check.
// The certificate verifier (`carbon-tracker/verify`) at the end.

import * as node from "carbon-tracker";
import * as bundler from "carbon-tracker/bundler";
import init, * as web from "carbon-tracker/web";
import type {
  Acted,
  Action,
  Block,
  CanonicalRecord,
  Child,
  DerivedId,
  ErrorCode,
  Event,
  FieldError,
  RecordInput,
  RecordState,
  Split,
  Status,
  TransitionCode,
} from "carbon-tracker";

type Package = typeof node;

function exercise(ct: Package): void {
  const input: RecordInput = {
    project_name: "Solar Farm",
    registry: "VCS",
    vintage: 2023,
    quantity: "100.1",
    serial_number: "VCS-001",
  };
  const scheme: "v1" = ct.ID_SCHEME;
  const id: string = ct.recordId(input);
  const alsoNumbers: string = ct.recordId({ ...input, vintage: "2023", quantity: 100.1 });
  const big: string = ct.recordId({ ...input, quantity: 100n });
  const canonical: CanonicalRecord = ct.canonicalize(input);
  const quantity: string = canonical.quantity;
  const vintage: number = canonical.vintage;
  const derived: DerivedId = ct.deriveId(input);
  const sameId: boolean = derived.id === id && derived.canonical.registry === canonical.registry;
  const problems: FieldError[] = ct.validate({ anything: "goes" });
  const code: ErrorCode | undefined = problems[0]?.code;

  const ids: string[] = ct.recordIds([input, input]);
  const thrown: string[] = ct.recordIds([input], { errors: "throw" });
  const collected: (string | node.ValidationError)[] = ct.recordIds([input, 42], { errors: "collect" });
  for (const item of collected) {
    if (typeof item !== "string") {
      const row: number | undefined = item.row;
      const fields: string[] = item.errors.map((e) => e.field);
    }
  }

  try {
    ct.recordId(input);
  } catch (e) {
    if (e instanceof ct.ValidationError) {
      const message: string = e.message;
      const errors: FieldError[] = e.errors;
      const name: "ValidationError" = e.name;
    } else if (e instanceof ct.TransitionError) {
      const why: TransitionCode = e.code;
    }
    const isError: boolean = e instanceof Error;
  }

  const events: Event[] = [
    {
      id: "0192f0c1-0000-7000-8000-000000000001",
      record_id: id,
      seq: 1,
      event_type: "CREATED",
      payload: null,
      created_at: "2026-01-01T10:00:00Z",
    },
    {
      id: "0192f0c1-0000-7000-8000-000000000002",
      record_id: id,
      seq: 2,
      event_type: "SOLD",
      payload: { buyer: "Acme", price: 12.5, currency: "USD" },
      created_at: new Date("2026-01-02T10:00:00Z"),
    },
  ];
  const block: Block | null = ct.parseSerial("ACR-FR-1129-2025-2917-30932 to 35143");
  const first: string | undefined = block?.start;
  const blockScheme: string | undefined = block?.scheme;

  const state: RecordState = ct.replay(events);
  const status: Status = state.status;
  const owner: string | null = state.owner;
  const next: RecordState = ct.apply(null, events[0]!);
  const after: RecordState = ct.apply(next, events[1]!);
  const then: RecordState | null = ct.stateAt(events, new Date());
  const thenText: RecordState | null = ct.stateAt(events, "2026-01-01T12:00:00Z");

  const action: Action = "RETIRED";
  const acted: Acted = ct.splitBlock(input, events, action, { quantity: 37, beneficiary: "City of Oslo" });
  if ("split" in acted) {
    const split: Split = acted.split;
    const front: Child = split.front;
    const frontId: string = front.id;
    const backQuantity: string = split.back.record.quantity;
    const parentEvent: Event = split.parent;
  } else {
    const whole: Event = acted.whole;
  }
  ct.splitBlock(input, state, "SOLD", { quantity: "10", buyer: "Beta" }, new Date());
  ct.splitBlock(input, events, "CANCELLED", null, "2026-02-01T00:00:00Z");
  ct.splitBlock(input, events, "RETIRED");
  // @ts-expect-error: actions are named by the event they append
  ct.splitBlock(input, events, "retire", { quantity: 37 });
  // @ts-expect-error: a payload is an object
  ct.splitBlock(input, events, "RETIRED", 37);

  // @ts-expect-error: a record is an object, not a string
  ct.recordId("Solar Farm");
  // A missing field type-checks (RecordInput is the core's type, whose fields
  // may be absent) and throws a ValidationError naming it at run time.
  ct.recordId({ project_name: "a", registry: "b", vintage: 2023, quantity: 1 });
  // @ts-expect-error: a field of the wrong type
  ct.recordId({ ...input, project_name: 42 });
  // @ts-expect-error: ids are strings
  const wrong: number = ct.recordId(input);
  // @ts-expect-error: collected results may be errors
  const notAllStrings: string[] = ct.recordIds([input], { errors: "collect" });
  // @ts-expect-error: statuses are a closed set
  const badStatus: Status = "DELETED";
  // @ts-expect-error: the state's quantity does not exist
  state.quantity;
}

exercise(node);
exercise(bundler);
exercise(web);

async function browser(): Promise<void> {
  await init();
  await init({ module_or_path: "/pkg/carbon_tracker_bg.wasm" });
  const id: string = web.recordId({
    project_name: "a",
    registry: "b",
    vintage: 2023,
    quantity: 1,
    serial_number: "c",
  });
}
void browser;

// The certificate verifier: `carbon-tracker/verify`, a module of its own.
import * as nodeVerify from "carbon-tracker/verify";
import * as bundlerVerify from "carbon-tracker/bundler/verify";
import initVerify, * as webVerify from "carbon-tracker/web/verify";
import type {
  Certificate,
  CertifiedEvent,
  CertifiedRecord,
  Checkpoint,
  Verified,
} from "carbon-tracker/verify";

type Verifier = typeof nodeVerify;

function verifying(v: Verifier, certificate: Certificate, key: string): void {
  const verified: Verified = v.verifyCertificate(certificate, key);
  const checkpoint: Checkpoint = verified.checkpoint;
  const origin: string = checkpoint.origin;
  const size: number = checkpoint.size;
  const root: string = checkpoint.root;
  const state: RecordState = verified.state;
  const status: Status = verified.state.status;
  const lineage: string[] = verified.lineage;
  // From its JSON text, and against a trusted older checkpoint (an earlier
  // result, or its signed note) with the consistency proof from it.
  v.verifyCertificate(JSON.stringify(certificate), key, { checkpoint, proof: ["ab".repeat(32)] });
  v.verifyCertificate(certificate, key, { checkpoint: certificate.checkpoint, proof: [] });
  v.verifyCertificate(certificate, key, null);

  const record: CertifiedRecord = certificate.records[0];
  const fields: CanonicalRecord = record.record;
  const entry: CertifiedEvent = record.events[0];
  const event: Event = entry.event;
  const index: number = entry.index;
  const proof: string[] = entry.proof;
  const note: string = certificate.checkpoint;
  const fingerprint: string = v.keyFingerprint(key);
  const opened: Checkpoint = v.openCheckpoint(note, key);

  try {
    v.verifyCertificate(certificate, key);
  } catch (e) {
    if (e instanceof v.CertificateError) {
      const code: "signature" | "proof" | "replay" | "id" | "lineage" | "consistency" = e.code;
      const detail: string | null = e.detail;
      const message: string = e.message;
      const name: "CertificateError" = e.name;
      // @ts-expect-error: the codes are a closed set
      const other: typeof e.code = "tampered";
    }
  }

  // @ts-expect-error: a certificate is a Certificate or its JSON text
  v.verifyCertificate({ record_id: "x" }, key);
  // @ts-expect-error: the key is its text
  v.verifyCertificate(certificate, { key });
  // @ts-expect-error: a trusted checkpoint comes with its consistency proof
  v.verifyCertificate(certificate, key, { checkpoint });
  // @ts-expect-error: the result is not a state
  const notAState: RecordState = v.verifyCertificate(certificate, key);
  // @ts-expect-error: the main module has no verifier
  node.verifyCertificate(certificate, key);
}

declare const certificate: Certificate;
verifying(nodeVerify, certificate, "log+01234567+AQ==");
verifying(bundlerVerify, certificate, "log+01234567+AQ==");
verifying(webVerify, certificate, "log+01234567+AQ==");

async function browserVerify(): Promise<void> {
  await initVerify({ module_or_path: "/pkg/verify/carbon_tracker_verify_bg.wasm" });
  const fingerprint: string = webVerify.keyFingerprint("log+01234567+AQ==");
}
void browserVerify;
