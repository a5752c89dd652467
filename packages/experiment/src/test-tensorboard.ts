import fs from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';

// The parts of TensorFlow's Event proto (tensorflow/core/util/event.proto, summary.proto) a scalar uses.
const root = protobuf.Root.fromJSON({
  nested: {
    Event: { fields: { wallTime: { type: 'double', id: 1 }, step: { type: 'int64', id: 2 }, fileVersion: { type: 'string', id: 3 }, summary: { type: 'Summary', id: 5 } } },
    Summary: { fields: { value: { rule: 'repeated', type: 'Value', id: 1 } } },
    Value: { fields: { tag: { type: 'string', id: 1 }, simpleValue: { type: 'float', id: 2 }, tensor: { type: 'TensorProto', id: 8 } } },
    TensorProto: { fields: { dtype: { type: 'int32', id: 1 }, tensorContent: { type: 'bytes', id: 4 }, floatVal: { rule: 'repeated', type: 'float', id: 5 }, doubleVal: { rule: 'repeated', type: 'double', id: 6 } } },
  },
});
const Event = root.lookupType('Event');

/** One scalar record of a TensorBoard event file. */
export interface ScalarRecord {
  tag: string;
  step: number;
  value: number;
}

/** Reads every scalar of the TFRecord event files in `logdir` (length, crc, data, crc per record). */
export function readScalars(logdir: string): ScalarRecord[] {
  const out: ScalarRecord[] = [];
  for (const f of fs.readdirSync(logdir).filter((n) => n.startsWith('events.out.tfevents')).sort()) {
    const buf = fs.readFileSync(path.join(logdir, f));
    let o = 0;
    while (o + 12 <= buf.length) {
      const len = Number(buf.readBigUInt64LE(o));
      const data = buf.subarray(o + 12, o + 12 + len);
      o += 12 + len + 4;
      const ev = Event.toObject(Event.decode(data), { longs: Number }) as { step?: number; summary?: { value?: { tag: string; simpleValue?: number; tensor?: { floatVal?: number[]; doubleVal?: number[]; tensorContent?: Uint8Array } }[] } };
      for (const v of ev.summary?.value ?? []) {
        const t = v.tensor;
        const value = v.simpleValue ?? t?.floatVal?.[0] ?? t?.doubleVal?.[0] ?? (t?.tensorContent?.length === 4 ? Buffer.from(t.tensorContent).readFloatLE(0) : Number.NaN);
        out.push({ tag: v.tag, step: ev.step ?? 0, value });
      }
    }
  }
  return out;
}
