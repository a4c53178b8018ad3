import { describe, expect, it } from 'vitest';
import { ForbiddenPickleGlobalError, InvalidMetadataError, PickleError, SaehdError } from '../../src/core/errors.ts';
import { parsePickle } from '../../src/core/formats/pickle.ts';
import { writePickle } from '../../src/core/formats/pickleWriter.ts';
import {
  type NdArray,
  type PyDict,
  type PyValue,
  PyBytes,
  PyFloat,
  PyTuple,
  cOrderData,
  isNdArray,
  ndarray,
} from '../../src/core/formats/pyValue.ts';

/**
 * Pickles made once by CPython 3.11 + NumPy 2.4 (`pickle.dumps(d, protocol=N)`), embedded as hex so the tests need no
 * Python. PY_P2 / PY_P4 / PY_P5 hold the same DFL-like dict (numpy._core names as NumPy 2 writes them; protocol 2
 * spells bytes as _codecs.encode, protocol 5 writes arrays as _frombuffer over BYTEARRAY8):
 *
 *   {'face_type': 'whole_face', 'landmarks': np.array([[1.5, 2.25], [3.0, -4.0]]), 'source_filename': '00001.jpg',
 *    'source_rect': np.array([10, 20, 300, 400], np.int64), 'source_landmarks': [[1.5, 2.0], [3.25, 4.0]],
 *    'image_to_face_mat': np.array([[1.0, 0.0, -5.0], [0.0, 1.0, 7.5]]),
 *    'seg_ie_polys': {'polys': [{'type': 1, 'pts': np.array([[1, 2], [3, 4], [5, 6]], np.float32)}]},
 *    'xseg_mask': np.frombuffer(b'\x89PNG\r\n\x1a\n', np.uint8).reshape(-1, 1), 'eyebrows_expand_mod': 1.0,
 *    'misc': (2**70, -5, True, False, None, b'xyz', np.float64(2.5), np.int64(-3), np.float32(1.0)),
 *    'more': [np.array([7, -8], np.int32), np.array([0.5, -2], np.float16), np.array([True, False]),
 *             np.asfortranarray(np.arange(6.).reshape(2, 3)), np.array([1, 2], '>i4'), np.array([1, 2, 3], np.uint16)]}
 *
 * CPY_P3 / CPY_P4 were written with `_reconstruct.__module__` set to 'numpy.core.multiarray' (what NumPy 1 and DFL's
 * builds write), so our writer must reproduce them byte for byte:
 *
 *   {'face_type': 'whole_face', 'landmarks': np.array([[1.5, 2.0], [3.0, 4.25]]), 'source_filename': '00001.jpg',
 *    'source_rect': np.array([1, 2, 3, 4], np.int64), 'image_to_face_mat': np.array([[1.5, 0, -3], [0, 1.5, 2.25]]),
 *    'seg_ie_polys': {'polys': [{'type': 1, 'pts': np.array([[1, 2]], np.float32)},
 *                               {'type': 0, 'pts': np.array([[5, 6]], np.float32)}]},
 *    'xseg_mask': np.array([[137], [80]], np.uint8), 'eyebrows_expand_mod': 1.0, 'n': [2**70, -1, 70000, (1, 2, 3, 4)]}
 *
 * CPY_DISTINCT_DTYPES: {'a': zeros(1), 'b': ones(1)} whose float64 dtypes are two distinct objects (as arrays loaded
 * by NumPy 1 have), so the dtype is reduced twice instead of being a memo reference.
 */
function hex(...parts: string[]): Uint8Array {
  const h = parts.join('');
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const PY_P2 = hex(
  '80027d7100285809000000666163655f747970657101580a00000077686f6c655f66616365710258090000006c616e646d61726b73710363',
  '6e756d70792e5f636f72652e6d756c746961727261790a5f7265636f6e7374727563740a7104636e756d70790a6e6461727261790a71054b',
  '00857106635f636f646563730a656e636f64650a7107580100000062710858060000006c6174696e31710986710a52710b87710c52710d28',
  '4b014b024b0286710e636e756d70790a64747970650a710f5802000000663871108988877111527112284b0358010000003c71134e4e4e4a',
  'ffffffff4affffffff4b00747114628968075822000000000000000000c3b83f0000000000000240000000000000084000000000000010c3',
  '807115680986711652711774711862580f000000736f757263655f66696c656e616d657119580900000030303030312e6a7067711a580b00',
  '0000736f757263655f72656374711b680468054b0085711c680b87711d52711e284b014b0485711f680f5802000000693871208988877121',
  '527122284b0368134e4e4e4affffffff4affffffff4b007471236289680758210000000a0000000000000014000000000000002c01000000',
  '000000c2900100000000000071246809867125527126747127625810000000736f757263655f6c616e646d61726b7371285d7129285d712a',
  '28473ff8000000000000474000000000000000655d712b2847400a00000000000047401000000000000065655811000000696d6167655f74',
  '6f5f666163655f6d6174712c680468054b0085712d680b87712e52712f284b014b024b0386713068128968075833000000000000000000c3',
  'b03f000000000000000000000000000014c3800000000000000000000000000000c3b03f0000000000001e40713168098671325271337471',
  '3462580c0000007365675f69655f706f6c797371357d71365805000000706f6c797371375d71387d713928580400000074797065713a4b01',
  '5803000000707473713b680468054b0085713c680b87713d52713e284b014b034b0286713f680f5802000000663471408988877141527142',
  '284b0368134e4e4e4affffffff4affffffff4b0074714362896807581c0000000000c2803f00000040000040400000c280400000c2a04000',
  '00c3804071446809867145527146747147627561735809000000787365675f6d61736b7148680468054b00857149680b87714a52714b284b',
  '014b084b0186714c680f58020000007531714d898887714e52714f284b0358010000007c71504e4e4e4affffffff4affffffff4b00747151',
  '628968075809000000c289504e470d0a1a0a7152680986715352715474715562581300000065796562726f77735f657870616e645f6d6f64',
  '7156473ff000000000000058040000006d6973637157288a090000000000000000404afbffffff88894e6807580300000078797a71586809',
  '86715952715a636e756d70792e5f636f72652e6d756c746961727261790a7363616c61720a715b6812680758080000000000000000000440',
  '715c680986715d52715e86715f527160685b682268075810000000c3bdc3bfc3bfc3bfc3bfc3bfc3bfc3bf71616809867162527163867164',
  '527165685b6842680758050000000000c2803f7166680986716752716886716952716a74716b58040000006d6f7265716c5d716d28680468',
  '054b0085716e680b87716f527170284b014b02857171680f5802000000693471728988877173527174284b0368134e4e4e4affffffff4aff',
  'ffffff4b0074717562896807580c00000007000000c3b8c3bfc3bfc3bf7176680986717752717874717962680468054b0085717a680b8771',
  '7b52717c284b014b0285717d680f58020000006632717e898887717f527180284b0368134e4e4e4affffffff4affffffff4b007471816289',
  '68075805000000003800c3807182680986718352718474718562680468054b00857186680b877187527188284b014b02857189680f580200',
  '00006231718a898887718b52718c284b0368504e4e4e4affffffff4affffffff4b0074718d6289680758020000000100718e680986718f52',
  '719074719162680468054b00857192680b877193527194284b014b024b038671956812886807583100000000000000000000000000000000',
  '000840000000000000c3b03f0000000000001040000000000000004000000000000014407196680986719752719874719962680468054b00',
  '85719a680b87719b52719c284b014b0285719d680f58020000006934719e898887719f5271a0284b0358010000003e71a14e4e4e4affffff',
  'ff4affffffff4b007471a2628968075808000000000000010000000271a368098671a45271a57471a662680468054b008571a7680b8771a8',
  '5271a9284b014b038571aa680f5802000000753271ab89888771ac5271ad284b0368134e4e4e4affffffff4affffffff4b007471ae628968',
  '07580600000001000200030071af68098671b05271b17471b26265752e',
);

const PY_P4 = hex(
  '80049524050000000000007d94288c09666163655f74797065948c0a77686f6c655f66616365948c096c616e646d61726b73948c166e756d',
  '70792e5f636f72652e6d756c74696172726179948c0c5f7265636f6e7374727563749493948c056e756d7079948c076e6461727261799493',
  '944b0085944301629487945294284b014b024b02869468078c0564747970659493948c02663894898887945294284b038c013c944e4e4e4a',
  'ffffffff4affffffff4b00749462894320000000000000f83f0000000000000240000000000000084000000000000010c0947494628c0f73',
  '6f757263655f66696c656e616d65948c0930303030312e6a7067948c0b736f757263655f7265637494680668094b008594680b8794529428',
  '4b014b04859468108c02693894898887945294284b0368144e4e4e4affffffff4affffffff4b007494628943200a00000000000000140000',
  '00000000002c010000000000009001000000000000947494628c10736f757263655f6c616e646d61726b73945d94285d9428473ff8000000',
  '000000474000000000000000655d942847400a00000000000047401000000000000065658c11696d6167655f746f5f666163655f6d617494',
  '680668094b008594680b87945294284b014b024b0386946813894330000000000000f03f000000000000000000000000000014c000000000',
  '00000000000000000000f03f0000000000001e40947494628c0c7365675f69655f706f6c7973947d948c05706f6c7973945d947d94288c04',
  '74797065944b018c0370747394680668094b008594680b87945294284b014b034b02869468108c02663494898887945294284b0368144e4e',
  '4e4affffffff4affffffff4b007494628943180000803f0000004000004040000080400000a0400000c040947494627561738c0978736567',
  '5f6d61736b94680668094b008594680b87945294284b014b084b01869468108c02753194898887945294284b038c017c944e4e4e4affffff',
  'ff4affffffff4b0074946289430889504e470d0a1a0a947494628c1365796562726f77735f657870616e645f6d6f6494473ff00000000000',
  '008c046d69736394288a090000000000000000404afbffffff88894e430378797a9468048c067363616c6172949394681343080000000000',
  '0004409486945294685168214308fdffffffffffffff94869452946851683d43040000803f948694529474948c046d6f7265945d94286806',
  '68094b008594680b87945294284b014b02859468108c02693494898887945294284b0368144e4e4e4affffffff4affffffff4b0074946289',
  '430807000000f8ffffff94749462680668094b008594680b87945294284b014b02859468108c02663294898887945294284b0368144e4e4e',
  '4affffffff4affffffff4b00749462894304003800c094749462680668094b008594680b87945294284b014b02859468108c026231948988',
  '87945294284b0368494e4e4e4affffffff4affffffff4b00749462894302010094749462680668094b008594680b87945294284b014b024b',
  '038694681388433000000000000000000000000000000840000000000000f03f000000000000104000000000000000400000000000001440',
  '94749462680668094b008594680b87945294284b014b02859468108c02693494898887945294284b038c013e944e4e4e4affffffff4affff',
  'ffff4b00749462894308000000010000000294749462680668094b008594680b87945294284b014b03859468108c02753294898887945294',
  '284b0368144e4e4e4affffffff4affffffff4b007494628943060100020003009474946265752e',
);

const PY_P5 = hex(
  '800595ef040000000000007d94288c09666163655f74797065948c0a77686f6c655f66616365948c096c616e646d61726b73948c136e756d',
  '70792e5f636f72652e6e756d65726963948c0b5f66726f6d62756666657294939428962000000000000000000000000000f83f0000000000',
  '000240000000000000084000000000000010c0948c056e756d7079948c0564747970659493948c02663894898887945294284b038c013c94',
  '4e4e4e4affffffff4affffffff4b007494624b024b0286948c014394749452948c0f736f757263655f66696c656e616d65948c0930303030',
  '312e6a7067948c0b736f757263655f72656374946806289620000000000000000a0000000000000014000000000000002c01000000000000',
  '900100000000000094680a8c02693894898887945294284b03680e4e4e4e4affffffff4affffffff4b007494624b0485946811749452948c',
  '10736f757263655f6c616e646d61726b73945d94285d9428473ff8000000000000474000000000000000655d942847400a00000000000047',
  '401000000000000065658c11696d6167655f746f5f666163655f6d617494680628963000000000000000000000000000f03f000000000000',
  '000000000000000014c00000000000000000000000000000f03f0000000000001e4094680d4b024b0386946811749452948c0c7365675f69',
  '655f706f6c7973947d948c05706f6c7973945d947d94288c0474797065944b018c03707473946806289618000000000000000000803f0000',
  '004000004040000080400000a0400000c04094680a8c02663494898887945294284b03680e4e4e4e4affffffff4affffffff4b007494624b',
  '034b0286946811749452947561738c09787365675f6d61736b94680628430889504e470d0a1a0a94680a8c02753194898887945294284b03',
  '8c017c944e4e4e4affffffff4affffffff4b007494624b084b0186946811749452948c1365796562726f77735f657870616e645f6d6f6494',
  '473ff00000000000008c046d69736394288a090000000000000000404afbffffff88894e430378797a948c166e756d70792e5f636f72652e',
  '6d756c74696172726179948c067363616c6172949394680d4308000000000000044094869452946846681a4308fdffffffffffffff948694',
  '52946846683243040000803f948694529474948c046d6f7265945d942868062896080000000000000007000000f8ffffff94680a8c026934',
  '94898887945294284b03680e4e4e4e4affffffff4affffffff4b007494624b028594681174945294680628960400000000000000003800c0',
  '94680a8c02663294898887945294284b03680e4e4e4e4affffffff4affffffff4b007494624b028594681174945294680628960200000000',
  '000000010094680a8c02623194898887945294284b03683c4e4e4e4affffffff4affffffff4b007494624b02859468117494529468062896',
  '300000000000000000000000000000000000000000000840000000000000f03f000000000000104000000000000000400000000000001440',
  '94680d4b024b0386948c01469474945294680628960800000000000000000000010000000294680a8c02693494898887945294284b038c01',
  '3e944e4e4e4affffffff4affffffff4b007494624b02859468117494529468062896060000000000000001000200030094680a8c02753294',
  '898887945294284b03680e4e4e4e4affffffff4affffffff4b007494624b03859468117494529465752e',
);

const CPY_P3 = hex(
  '80037d7100285809000000666163655f747970657101580a00000077686f6c655f66616365710258090000006c616e646d61726b73710363',
  '6e756d70792e636f72652e6d756c746961727261790a5f7265636f6e7374727563740a7104636e756d70790a6e6461727261790a71054b00',
  '8571064301627107877108527109284b014b024b0286710a636e756d70790a64747970650a710b58020000006638710c898887710d52710e',
  '284b0358010000003c710f4e4e4e4affffffff4affffffff4b0074711062894320000000000000f83f000000000000004000000000000008',
  '400000000000001140711174711262580f000000736f757263655f66696c656e616d657113580900000030303030312e6a70677114580b00',
  '0000736f757263655f726563747115680468054b008571166807877117527118284b014b04857119680b58020000006938711a898887711b',
  '52711c284b03680f4e4e4e4affffffff4affffffff4b0074711d628943200100000000000000020000000000000003000000000000000400',
  '000000000000711e74711f625811000000696d6167655f746f5f666163655f6d61747120680468054b008571216807877122527123284b01',
  '4b024b03867124680e894330000000000000f83f000000000000000000000000000008c00000000000000000000000000000f83f00000000',
  '00000240712574712662580c0000007365675f69655f706f6c797371277d71285805000000706f6c797371295d712a287d712b2858040000',
  '0074797065712c4b015803000000707473712d680468054b0085712e680787712f527130284b014b014b02867131680b5802000000663471',
  '328988877133527134284b03680f4e4e4e4affffffff4affffffff4b00747135628943080000803f00000040713674713762757d71382868',
  '2c4b00682d680468054b00857139680787713a52713b284b014b014b0286713c68348943080000a0400000c040713d74713e627565735809',
  '000000787365675f6d61736b713f680468054b008571406807877141527142284b014b024b01867143680b58020000007531714489888771',
  '45527146284b0358010000007c71474e4e4e4affffffff4affffffff4b00747148628943028950714974714a62581300000065796562726f',
  '77735f657870616e645f6d6f64714b473ff000000000000058010000006e714c5d714d288a090000000000000000404affffffff4a701101',
  '00284b014b024b034b0474714e65752e',
);

const CPY_P4 = hex(
  '80049509030000000000007d94288c09666163655f74797065948c0a77686f6c655f66616365948c096c616e646d61726b73948c156e756d',
  '70792e636f72652e6d756c74696172726179948c0c5f7265636f6e7374727563749493948c056e756d7079948c076e646172726179949394',
  '4b0085944301629487945294284b014b024b02869468078c0564747970659493948c02663894898887945294284b038c013c944e4e4e4aff',
  'ffffff4affffffff4b00749462894320000000000000f83f000000000000004000000000000008400000000000001140947494628c0f736f',
  '757263655f66696c656e616d65948c0930303030312e6a7067948c0b736f757263655f7265637494680668094b008594680b87945294284b',
  '014b04859468108c02693894898887945294284b0368144e4e4e4affffffff4affffffff4b00749462894320010000000000000002000000',
  '0000000003000000000000000400000000000000947494628c11696d6167655f746f5f666163655f6d617494680668094b008594680b8794',
  '5294284b014b024b0386946813894330000000000000f83f000000000000000000000000000008c00000000000000000000000000000f83f',
  '0000000000000240947494628c0c7365675f69655f706f6c7973947d948c05706f6c7973945d94287d94288c0474797065944b018c037074',
  '7394680668094b008594680b87945294284b014b014b02869468108c02663494898887945294284b0368144e4e4e4affffffff4affffffff',
  '4b007494628943080000803f0000004094749462757d942868314b006832680668094b008594680b87945294284b014b014b028694683989',
  '43080000a0400000c040947494627565738c09787365675f6d61736b94680668094b008594680b87945294284b014b024b01869468108c02',
  '753194898887945294284b038c017c944e4e4e4affffffff4affffffff4b007494628943028950947494628c1365796562726f77735f6578',
  '70616e645f6d6f6494473ff00000000000008c016e945d94288a090000000000000000404affffffff4a70110100284b014b024b034b0474',
  '9465752e',
);

const CPY_DISTINCT_DTYPES = hex(
  '80037d7100285801000000617101636e756d70792e636f72652e6d756c746961727261790a5f7265636f6e7374727563740a7102636e756d',
  '70790a6e6461727261790a71034b008571044301627105877106527107284b014b01857108636e756d70790a64747970650a710958020000',
  '006638710a898887710b52710c284b0358010000003c710d4e4e4e4affffffff4affffffff4b0074710e628943080000000000000000710f',
  '747110625801000000627111680268034b008571126805877113527114284b014b0185711568095802000000663871168988877117527118',
  '284b03680d4e4e4e4affffffff4affffffff4b0074711962894308000000000000f03f711a74711b62752e',
);


// ---- helpers for hand-made pickles ----------------------------------------------------------------------------

const enc = new TextEncoder();
function bytesOf(...parts: (number | number[] | string | Uint8Array)[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === 'number') out.push(p);
    else if (typeof p === 'string') out.push(...enc.encode(p));
    else out.push(...p);
  }
  return new Uint8Array(out);
}
const u32 = (n: number) => [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255];
const binunicode = (s: string) => bytesOf(0x58, u32(enc.encode(s).length), s);

/** A protocol-2 array pickle by hand: _reconstruct + BUILD with the given shape tuple opcodes and raw data. */
function handArray(shapeOps: number[], dtype: string, raw: Uint8Array): Uint8Array {
  return bytesOf(
    0x80, 2,
    'cnumpy.core.multiarray\n_reconstruct\n', 'cnumpy\nndarray\n', 0x4b, 0, 0x85, 0x43, 1, 'b', 0x87, 0x52,
    0x28, 0x4b, 1, shapeOps,
    'cnumpy\ndtype\n', binunicode(dtype), 0x89, 0x88, 0x87, 0x52,
    0x28, 0x4b, 3, binunicode('<'), 0x4e, 0x4e, 0x4e, 0x4a, u32(-1 >>> 0), 0x4a, u32(-1 >>> 0), 0x4b, 0, 0x74, 0x62,
    0x89, 0x42, u32(raw.length), raw, 0x74, 0x62, 0x2e,
  );
}

function expectError(fn: () => unknown, cls: new (...a: never[]) => Error, maxMs = 1000): Error {
  const t0 = performance.now();
  let caught: unknown = null;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  const ms = performance.now() - t0;
  expect(caught).toBeInstanceOf(cls);
  expect(ms).toBeLessThan(maxMs);
  return caught as Error;
}

const eq = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

// ---- reading CPython's pickles ------------------------------------------------------------------------------------

describe('parsePickle on CPython/NumPy pickles (protocols 2, 4, 5)', () => {
  const expectedDict = (): PyDict =>
    new Map<string, PyValue>([
      ['face_type', 'whole_face'],
      ['landmarks', ndarray('f8', [2, 2], new Float64Array([1.5, 2.25, 3, -4]))],
      ['source_filename', '00001.jpg'],
      ['source_rect', ndarray('i8', [4], new BigInt64Array([10n, 20n, 300n, 400n]))],
      // Python's 2.0 is a float, so it stays one (PyFloat) rather than becoming an int.
      ['source_landmarks', [[1.5, new PyFloat(2)], [3.25, new PyFloat(4)]]],
      ['image_to_face_mat', ndarray('f8', [2, 3], new Float64Array([1, 0, -5, 0, 1, 7.5]))],
      ['seg_ie_polys', new Map([['polys', [new Map<string, PyValue>([['type', 1], ['pts', ndarray('f4', [3, 2], new Float32Array([1, 2, 3, 4, 5, 6]))]])]]])],
      ['xseg_mask', ndarray('u1', [8, 1], new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))],
      ['eyebrows_expand_mod', new PyFloat(1)],
      ['misc', new PyTuple([2n ** 70n, -5, true, false, null, new PyBytes(enc.encode('xyz')), 2.5, -3, new PyFloat(1)])],
      [
        'more',
        [
          ndarray('i4', [2], new Int32Array([7, -8])),
          ndarray('f2', [2], new Float32Array([0.5, -2])),
          ndarray('b1', [2], new Uint8Array([1, 0])),
          { ...ndarray('f8', [2, 3], new Float64Array([0, 3, 1, 4, 2, 5])), fortran: true },
          { ...ndarray('i4', [2], new Int32Array([1, 2])), byteOrder: '>' },
          ndarray('u2', [3], new Uint16Array([1, 2, 3])),
        ],
      ],
    ]);

  for (const [name, bytes] of [['protocol 2', PY_P2], ['protocol 4', PY_P4], ['protocol 5 (_frombuffer)', PY_P5]] as const) {
    it(`reads a ${name} pickle into typed values`, () => {
      const v = parsePickle(bytes);
      expect(v).toBeInstanceOf(Map);
      const d = v as PyDict;
      expect([...d.keys()]).toEqual([...expectedDict().keys()]);
      expect(d).toEqual(expectedDict());
      // toEqual is loose on classes of plain objects; check the important types explicitly.
      expect((d.get('source_rect') as NdArray).data).toBeInstanceOf(BigInt64Array);
      expect(d.get('eyebrows_expand_mod')).toBeInstanceOf(PyFloat);
      const more = d.get('more') as NdArray[];
      expect(more[3].fortran).toBe(true);
      expect(Array.from(cOrderData(more[3]) as Float64Array)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(more[4].byteOrder).toBe('>');
      expect(more[4].data).toBeInstanceOf(Int32Array);
    });
  }

  it('round-trips each through our writer (protocols 3 and 4) to an equal value', () => {
    for (const src of [PY_P2, PY_P4, PY_P5]) {
      const v = parsePickle(src);
      for (const proto of [3, 4] as const) {
        const again = parsePickle(writePickle(v, proto));
        expect(again).toEqual(v);
        const more = (again as PyDict).get('more') as NdArray[];
        expect(more[4].byteOrder).toBe('>');
        expect(more[1].dtype).toBe('f2');
      }
    }
  });
});

describe('parsePickle on Python 2 style strings', () => {
  it('reads SHORT_BINSTRING / BINSTRING as Latin-1 text and accepts it as array data', () => {
    expect(parsePickle(bytesOf(0x80, 2, 0x55, 3, [0x41, 0x80, 0xff], 0x2e))).toBe('A\x80\xff');
    expect(parsePickle(bytesOf(0x80, 2, 0x54, u32(2), [0x9f, 0x20], 0x2e))).toBe('\x9f ');
    // An old NumPy array whose raw data is a str: bytes 0x80..0x9f must survive (they are not windows-1252 here).
    const arr = handArray([0x4b, 4, 0x85], 'u1', new Uint8Array(0));
    const at = arr.length - 3 - 5; // the empty BINBYTES
    const py2 = bytesOf(arr.subarray(0, at), 0x55, 4, [0x80, 0x81, 0x9f, 0xff], arr.subarray(at + 5));
    expect(parsePickle(py2)).toEqual(ndarray('u1', [4], new Uint8Array([0x80, 0x81, 0x9f, 0xff])));
  });
});

// ---- writing like CPython -----------------------------------------------------------------------------------------

describe('writePickle matches CPython byte for byte', () => {
  it('re-pickles CPython protocol-3 and protocol-4 output identically', () => {
    expect(eq(writePickle(parsePickle(CPY_P3), 3), CPY_P3)).toBe(true);
    expect(eq(writePickle(parsePickle(CPY_P4), 4), CPY_P4)).toBe(true);
  });

  it('writes freshly built values (shared NumPy dtypes, interned keys) as CPython does', () => {
    const fresh: PyDict = new Map<string, PyValue>([
      ['face_type', 'whole_face'],
      ['landmarks', ndarray('f8', [2, 2], new Float64Array([1.5, 2, 3, 4.25]))],
      ['source_filename', '00001.jpg'],
      ['source_rect', ndarray('i8', [4], new BigInt64Array([1n, 2n, 3n, 4n]))],
      ['image_to_face_mat', ndarray('f8', [2, 3], new Float64Array([1.5, 0, -3, 0, 1.5, 2.25]))],
      [
        'seg_ie_polys',
        new Map([
          [
            'polys',
            [
              new Map<string, PyValue>([['type', 1], ['pts', ndarray('f4', [1, 2], new Float32Array([1, 2]))]]),
              new Map<string, PyValue>([['type', 0], ['pts', ndarray('f4', [1, 2], new Float32Array([5, 6]))]]),
            ],
          ],
        ]),
      ],
      ['xseg_mask', ndarray('u1', [2, 1], new Uint8Array([137, 80]))],
      ['eyebrows_expand_mod', new PyFloat(1)],
      ['n', [2n ** 70n, -1, 70000, new PyTuple([1, 2, 3, 4])]],
    ]);
    expect(eq(writePickle(fresh), CPY_P3)).toBe(true);
    expect(eq(writePickle(fresh, 4), CPY_P4)).toBe(true);
  });

  it('keeps dtype objects distinct when the source pickle had them distinct', () => {
    const v = parsePickle(CPY_DISTINCT_DTYPES);
    expect(eq(writePickle(v), CPY_DISTINCT_DTYPES)).toBe(true);
    // A copy of the arrays loses that identity and shares the dtype, like fresh NumPy arrays.
    const copy = new Map([...(v as PyDict)].map(([k, a]) => [k, { ...(a as NdArray) }]));
    expect(writePickle(copy).length).toBeLessThan(CPY_DISTINCT_DTYPES.length);
    expect(parsePickle(writePickle(copy))).toEqual(v);
  });

  it('writes ints, floats and integral floats with the opcodes CPython picks', () => {
    const w = (v: PyValue) => Array.from(writePickle(v)).slice(2, -1);
    expect(w(1)).toEqual([0x4b, 1]);
    expect(w(300)).toEqual([0x4d, 0x2c, 0x01]);
    expect(w(-1)).toEqual([0x4a, 0xff, 0xff, 0xff, 0xff]);
    expect(w(2 ** 31)).toEqual([0x8a, 5, 0, 0, 0, 0x80, 0]);
    expect(w(-(2 ** 31) - 1)).toEqual([0x8a, 5, 0xff, 0xff, 0xff, 0x7f, 0xff]);
    expect(w(2n ** 64n)).toEqual([0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(w(-(2n ** 63n))).toEqual([0x8a, 8, 0, 0, 0, 0, 0, 0, 0, 0x80]);
    expect(w(new PyFloat(1))).toEqual([0x47, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]);
    expect(w(0.5)).toEqual([0x47, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0]);
    expect(w(null)).toEqual([0x4e]);
    expect(w(true)).toEqual([0x88]);
    expect(parsePickle(writePickle(new PyFloat(-0)))).toEqual(new PyFloat(-0));
    expect(parsePickle(writePickle(2n ** 2100n))).toBe(2n ** 2100n);
    expect(parsePickle(writePickle(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('batches lists and dicts by 1000 like the C pickler', () => {
    const list = writePickle(new Array(1001).fill(0));
    // EMPTY_LIST BINPUT 0, MARK, 1000 × BININT1 0, APPENDS, MARK, BININT1 0, APPENDS, STOP
    const expected = [0x80, 3, 0x5d, 0x71, 0, 0x28, ...new Array(1000).fill([0x4b, 0]).flat(), 0x65, 0x28, 0x4b, 0, 0x65, 0x2e];
    expect(Array.from(list)).toEqual(expected);
    const one = writePickle(new Map([['a', 1]]));
    expect(Array.from(one)).toEqual([0x80, 3, 0x7d, 0x71, 0, 0x58, 1, 0, 0, 0, 0x61, 0x71, 1, 0x4b, 1, 0x73, 0x2e]);
    // A dict of exactly 1000 items ends with an empty MARK SETITEMS batch.
    const d1000 = writePickle(new Map(Array.from({ length: 1000 }, (_, i) => [i, null] as [number, PyValue])));
    expect(Array.from(d1000.slice(-4))).toEqual([0x75, 0x28, 0x75, 0x2e]);
    expect((parsePickle(d1000) as PyDict).size).toBe(1000);
  });

  it('frames protocol 4 in 64 KiB frames and writes large payloads outside them, as CPython does', () => {
    const floats = Array.from({ length: 20000 }, (_, i) => i + 0.5);
    const big = new PyBytes(new Uint8Array(100000).fill(7));
    const p = writePickle([floats, big], 4);
    // CPython 3.11 for pickle.dumps([[i + 0.5 for i in range(20000)], b'\x07' * 100000], protocol=4): 280082 bytes,
    // FRAMEs at 2 (65540 bytes), 65551 (65543), 131103 (48962), BINBYTES outside frames at 180074, and the last
    // 3 bytes (MEMOIZE APPENDS STOP) unframed because a frame needs at least 4.
    const frames: [number, number][] = [];
    let pos = 2;
    while (p[pos] === 0x95) {
      const len = Number(new DataView(p.buffer, p.byteOffset + pos + 1, 8).getBigUint64(0, true));
      frames.push([pos, len]);
      pos += 9 + len;
    }
    expect(frames).toEqual([[2, 65540], [65551, 65543], [131103, 48962]]);
    expect(pos).toBe(180074);
    expect(p[pos]).toBe(0x42);
    expect(p.length).toBe(280082);
    expect(Array.from(p.slice(-3))).toEqual([0x94, 0x65, 0x2e]);
    expect(parsePickle(p)).toEqual([floats, big]);
  });

  it('round-trips strings, including non-ASCII text and lone surrogates', () => {
    for (const s of ['', 'a', 'é', '€uro', '😀', 'x\udcff', 'y'.repeat(70000)]) {
      for (const proto of [3, 4] as const) expect(parsePickle(writePickle(s, proto))).toBe(s);
    }
  });

  it('refuses values it cannot pickle', () => {
    expectError(() => writePickle(undefined as unknown as PyValue), PickleError);
    expectError(() => writePickle({} as unknown as PyValue), PickleError);
    // A tuple that contains itself cannot be written (Python cannot build one either).
    const selfTuple = new PyTuple([]);
    selfTuple.items.push(selfTuple, 1);
    expectError(() => writePickle(selfTuple), PickleError);
    // A cycle through a list is written as CPython writes it (memo reference), and the reader refuses it.
    const loop: PyValue[] = [];
    const t = new PyTuple([loop]);
    loop.push(t);
    const p = writePickle(t);
    expect(Array.from(p)).toEqual([0x80, 3, 0x5d, 0x71, 0, 0x68, 0, 0x85, 0x71, 1, 0x61, 0x30, 0x68, 1, 0x2e]);
    expectError(() => parsePickle(p), PickleError);
    expectError(() => writePickle({ kind: 'ndarray', dtype: 'f8', shape: [3], data: new Float64Array(2) }), PickleError);
  });
});

// ---- hostile and damaged input ------------------------------------------------------------------------------------

describe('parsePickle refuses hostile or damaged pickles with named errors', () => {
  it('refuses os.system through GLOBAL, STACK_GLOBAL and INST', () => {
    const g = expectError(() => parsePickle(bytesOf(0x80, 2, 'cos\nsystem\n', binunicode('id'), 0x85, 0x52, 0x2e)), ForbiddenPickleGlobalError);
    expect((g as ForbiddenPickleGlobalError).global).toBe('os.system');
    const sg = expectError(
      () => parsePickle(bytesOf(0x80, 4, 0x8c, 2, 'os', 0x8c, 6, 'system', 0x93, 0x8c, 2, 'id', 0x85, 0x52, 0x2e)),
      ForbiddenPickleGlobalError,
    );
    expect((sg as ForbiddenPickleGlobalError).global).toBe('os.system');
    expectError(() => parsePickle(bytesOf(0x80, 2, 0x28, 'ios\nsystem\n', 0x2e)), ForbiddenPickleGlobalError);
  });

  it('refuses builtins such as eval and getattr, and NumPy names outside the allow-list', () => {
    for (const name of ['builtins\neval', '__builtin__\ngetattr', 'numpy\nload', 'numpy.core.multiarray\nfromstring', 'subprocess\nPopen']) {
      const e = expectError(() => parsePickle(bytesOf(0x80, 3, `c${name}\n`, 0x29, 0x52, 0x2e)), ForbiddenPickleGlobalError);
      expect(e.message).toContain(name.replace('\n', '.'));
    }
  });

  it('ends truncated pickles with PickleError at every cut point', () => {
    for (const src of [CPY_P3, PY_P4, PY_P5]) {
      for (let n = 0; n < src.length; n++) expectError(() => parsePickle(src.subarray(0, n)), PickleError);
    }
  });

  it('survives random damage with only named errors', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (const src of [CPY_P3, PY_P2, PY_P5]) {
      for (let k = 0; k < 1500; k++) {
        const b = src.slice();
        const flips = 1 + Math.floor(rnd() * 3);
        for (let f = 0; f < flips; f++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
        try {
          parsePickle(b);
        } catch (e) {
          expect(e).toBeInstanceOf(SaehdError);
        }
      }
    }
  });

  it('refuses declared lengths beyond the input before allocating', () => {
    expectError(() => parsePickle(bytesOf(0x80, 3, 0x42, 0xff, 0xff, 0xff, 0x7f, 'abc', 0x2e)), PickleError);
    expectError(() => parsePickle(bytesOf(0x80, 4, 0x8e, 0, 0, 0, 0, 0, 0, 0, 0x10, 'abc', 0x2e)), PickleError);
    expectError(() => parsePickle(bytesOf(0x80, 5, 0x96, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x2e)), PickleError);
    expectError(() => parsePickle(bytesOf(0x80, 3, 0x58, 0xff, 0xff, 0xff, 0xff, 'abc', 0x2e)), PickleError);
    expectError(() => parsePickle(bytesOf(0x80, 4, 0x95, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0x4e, 0x2e)), PickleError);
    expectError(() => parsePickle(bytesOf(0x80, 3, 0x8b, 0xff, 0xff, 0xff, 0x7f, 0x2e)), PickleError);
  });

  it('stops deep nesting (100000 nested lists) quickly', () => {
    const n = 100000;
    const b = new Uint8Array(2 + n + (n - 1) + 1);
    b.set([0x80, 2]);
    b.fill(0x5d, 2, 2 + n);
    b.fill(0x61, 2 + n, 2 + n + n - 1);
    b[b.length - 1] = 0x2e;
    const e = expectError(() => parsePickle(b), PickleError, 2000);
    expect(e.message).toMatch(/deeper/);
    // Within the limit it parses.
    expect(parsePickle(b, { maxDepth: n + 1 })).toBeInstanceOf(Array);
  });

  it('refuses recursive structures', () => {
    expectError(() => parsePickle(bytesOf(0x80, 3, 0x5d, 0x71, 0, 0x68, 0, 0x61, 0x2e)), PickleError);
  });

  it('handles shared sub-structures (memo references) in linear time', () => {
    // 40 levels, each a list holding the previous one twice: 2^40 paths, 80 references.
    const parts: (number | number[])[] = [0x80, 3, 0x5d, 0x71, 0];
    for (let i = 1; i <= 40; i++) parts.push(0x5d, 0x28, 0x68, i - 1, 0x68, i - 1, 0x65, 0x71, i);
    parts.push(0x2e);
    const t0 = performance.now();
    const v = parsePickle(bytesOf(...parts));
    expect(performance.now() - t0).toBeLessThan(500);
    expect(Array.isArray(v)).toBe(true);
  });

  it('refuses arrays whose shape does not match their bytes, and huge shapes', () => {
    const ok = handArray([0x4b, 2, 0x85], 'f8', new Uint8Array(16));
    expect(isNdArray(parsePickle(ok))).toBe(true);
    const e = expectError(() => parsePickle(handArray([0x4b, 3, 0x85], 'f8', new Uint8Array(16))), PickleError);
    expect(e.message).toMatch(/needs 24 bytes/);
    const huge = [0x4a, ...u32(1e9), 0x4a, ...u32(1e9), 0x86];
    expectError(() => parsePickle(handArray(huge, 'f8', new Uint8Array(16))), PickleError);
    expectError(() => parsePickle(handArray([0x4a, ...u32(-1 >>> 0), 0x85], 'u1', new Uint8Array(0))), PickleError);
    expectError(() => parsePickle(handArray([0x4b, 2, 0x85], 'O8', new Uint8Array(16))), PickleError);
    expectError(() => parsePickle(handArray([0x4b, 2, 0x85], 'f8', new Uint8Array(16)), { maxArrayBytes: 8 }), PickleError);
  });

  it('caps the total bytes of arrays built from one memoised buffer', () => {
    // One 1000-byte buffer referenced by 100 arrays: fine by default, refused under a 50 kB cap.
    const one = handArray([0x4d, 0xe8, 0x03, 0x85], 'u1', new Uint8Array(1000));
    const bytesEnd = one.length - 3; // just past BINBYTES + data, before TUPLE BUILD STOP
    const parts: (number | number[] | string | Uint8Array)[] = [one.subarray(0, bytesEnd), 0x71, 200, one.subarray(bytesEnd, one.length - 1)];
    parts.push(0x30); // drop the first array; its memoised data is reused below
    parts.push(0x5d, 0x28);
    for (let i = 0; i < 100; i++) {
      parts.push(
        'cnumpy.core.multiarray\n_reconstruct\n', 'cnumpy\nndarray\n', 0x4b, 0, 0x85, 0x43, 1, 'b', 0x87, 0x52,
        0x28, 0x4b, 1, 0x4d, 0xe8, 0x03, 0x85, 'cnumpy\ndtype\n', binunicode('u1'), 0x89, 0x88, 0x87, 0x52,
        0x28, 0x4b, 3, binunicode('|'), 0x4e, 0x4e, 0x4e, 0x4a, u32(-1 >>> 0), 0x4a, u32(-1 >>> 0), 0x4b, 0, 0x74, 0x62,
        0x89, 0x68, 200, 0x74, 0x62,
      );
    }
    parts.push(0x65, 0x2e);
    const b = bytesOf(...parts);
    expect((parsePickle(b) as NdArray[]).length).toBe(100);
    expectError(() => parsePickle(b, { maxArrayBytes: 50000 }), PickleError);
  });

  it('refuses memo references to missing entries and stack underflow', () => {
    expectError(() => parsePickle(bytesOf(0x80, 3, 0x68, 5, 0x2e)), PickleError);
    expectError(() => parsePickle(bytesOf(0x80, 3, 0x6a, 0, 0, 1, 0, 0x2e)), PickleError);
    expectError(() => parsePickle(bytesOf(0x80, 3, 0x71, 0, 0x2e)), PickleError);
    expectError(() => parsePickle(bytesOf(0x80, 3, 0x2e)), PickleError);
    expectError(() => parsePickle(bytesOf(0x80, 3, 0x61, 0x2e)), PickleError);
    expectError(() => parsePickle(bytesOf(0x80, 3, 0x5d, 0x28, 0x61, 0x2e)), PickleError);
    expectError(() => parsePickle(bytesOf(0x80, 3, 0x4e, 0x28, 0x85, 0x2e)), PickleError);
    expectError(() => parsePickle(bytesOf(0x80, 3, 0x5d, 0x65, 0x2e)), PickleError);
    expectError(() => parsePickle(bytesOf(0x80, 3, 0x52, 0x2e)), PickleError);
  });

  it('refuses what DFL never writes: out-of-band buffers, sets, objects, text opcodes, odd keys', () => {
    const cases: (number | string | number[])[][] = [
      [0x80, 5, 0x97, 0x2e], // NEXT_BUFFER
      [0x80, 5, 0x98, 0x2e], // READONLY_BUFFER
      [0x80, 4, 0x8f, 0x2e], // EMPTY_SET
      [0x80, 4, 0x28, 0x91, 0x2e], // FROZENSET
      [0x80, 2, 'cnumpy\nndarray\n', 0x29, 0x81, 0x2e], // NEWOBJ
      [0x80, 2, 'cnumpy\nndarray\n', 0x29, 0x52, 0x2e], // calling ndarray
      [0x80, 2, 0x7d, 0x7d, 0x62, 0x2e], // BUILD on a dict
      [0x80, 2, 0x5d, 0x29, 0x52, 0x2e], // REDUCE on a list
      [0x80, 2, 'I1\n', 0x2e], // text INT
      [0x80, 2, 0x50, 'x\n', 0x2e], // PERSID
      [0x80, 2, 0x82, 1, 0x2e], // EXT1
      [0x80, 6, 0x4e, 0x2e], // protocol 6
      [0x80, 2, 0x7d, 0x29, 0x4e, 0x73, 0x2e], // tuple key
      [0x80, 2, 'cnumpy\ndtype\n', 0x2e], // a bare global as the result
      [0x80, 2, 0xff], // unknown opcode
    ];
    for (const c of cases) expectError(() => parsePickle(bytesOf(...c)), PickleError);
  });

  it('caps the number of values', () => {
    const b = bytesOf(0x80, 3, 0x5d, 0x28, ...new Array(5000).fill(0x4e), 0x65, 0x2e);
    expect((parsePickle(b) as unknown[]).length).toBe(5000);
    expectError(() => parsePickle(b, { maxItems: 1000 }), PickleError);
    expectError(() => parsePickle(b, { maxBytes: 100 }), PickleError);
    expectError(() => parsePickle(new Uint8Array(0)), PickleError);
  });
});

describe('ndarray helper', () => {
  it('checks the typed array against dtype and shape', () => {
    expect(ndarray('f8', [2, 3], new Float64Array(6)).shape).toEqual([2, 3]);
    expectError(() => ndarray('f8', [2, 3], new Float64Array(5)), InvalidMetadataError);
    expectError(() => ndarray('f8', [2], new Float32Array(2)), InvalidMetadataError);
    expectError(() => ndarray('x9' as never, [2], new Float32Array(2)), InvalidMetadataError);
  });
});
