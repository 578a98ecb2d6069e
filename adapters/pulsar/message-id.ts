// Pulsar's WebSocket API hands out message ids as base64 of the MessageIdData
// protobuf. The port shows them as Pulsar prints them ("ledger:entry:partition",
// plus ":batchIndex" inside a batch), which is stable whichever side encoded them.

/** Base64 MessageIdData -> "ledger:entry:partition[:batchIndex]". */
export function messageIdString(base64: string): string {
  const bytes = Buffer.from(base64, 'base64');
  let ledger = 0;
  let entry = 0;
  let partition = -1;
  let batch = -1;
  let offset = 0;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (offset >= bytes.length) throw new Error(`truncated message id ${base64}`);
      const byte = bytes[offset++];
      value += (byte & 0x7f) * scale;
      scale *= 128;
      if ((byte & 0x80) === 0) return value;
    }
    throw new Error(`bad varint in message id ${base64}`);
  };
  // int32 fields encode negative values as 10-byte two's complement varints.
  const int32 = (): number => {
    const value = varint();
    return value >= 2 ** 63 ? -1 : value > 2 ** 31 ? value - 2 ** 64 : value;
  };
  while (offset < bytes.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (wire === 0) {
      if (field === 1) ledger = varint();
      else if (field === 2) entry = varint();
      else if (field === 3) partition = int32();
      else if (field === 4) batch = int32();
      else varint();
    } else if (wire === 2) {
      const length = varint();
      offset += length;
    } else if (wire === 1) {
      offset += 8;
    } else if (wire === 5) {
      offset += 4;
    } else {
      throw new Error(`unsupported wire type ${wire} in message id ${base64}`);
    }
  }
  return batch >= 0 ? `${ledger}:${entry}:${partition}:${batch}` : `${ledger}:${entry}:${partition}`;
}

/** Inverse of messageIdString for ids this process did not receive itself (acknowledging by id alone). */
export function messageIdBase64(id: string): string {
  const match = /^(\d+):(\d+):(-?\d+)(?::(\d+))?$/.exec(id);
  if (!match) throw new Error(`"${id}" is not a Pulsar message id`);
  const out: number[] = [];
  const varint = (value: number) => {
    let v = value;
    while (v >= 128) {
      out.push((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(v);
  };
  varint(0x08);
  varint(Number(match[1]));
  varint(0x10);
  varint(Number(match[2]));
  if (Number(match[3]) >= 0) {
    varint(0x18);
    varint(Number(match[3]));
  }
  if (match[4] !== undefined) {
    varint(0x20);
    varint(Number(match[4]));
  }
  return Buffer.from(out).toString('base64');
}
