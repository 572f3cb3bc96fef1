// Feed readers show a feed that a strict XML parser refuses over one slip: a bare & in a title or in a link's
// query, an HTML entity (&nbsp;) that XML does not define, a < in text, a reference to a character XML forbids,
// a byte-order mark after the leading whitespace. This pre-pass repairs those slips and nothing else: markup,
// CDATA sections, comments, processing instructions and the DOCTYPE pass through untouched, a well-formed
// document comes back as it was, and no line break is added or removed, so a parser's line numbers still point
// into the original document (columns are mapped back with `originalOffset`).
//
// Entities the DOCTYPE declares are never expanded (that is how a billion-laughs document costs gigabytes):
// a reference to one is left as it is, for the parser to refuse, rather than turned into text that would
// silently stand for what the document meant.

export interface RepairedXml {
  /** The text to parse: the document itself when it needed no repair. */
  text: string;
  /** The name of the document's first element, if it has one. */
  root: string | null;
  /** The general entities the document's DOCTYPE declares. */
  declaredEntities: ReadonlySet<string>;
  /** Where the character at `offset` in `text` is in the original document (worked out again on each call). */
  originalOffset(offset: number): number;
}

/** Thrown when the repairs would make the text longer than the caller allows. */
export class RepairLimitError extends Error {}

/**
 * The HTML 4 entities (the set sax knows outside its strict mode, so no name a feed could use today is lost),
 * as groups of names for consecutive code points, each group led by its first code point.
 */
const HTML_ENTITY_GROUPS = `
  160 nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn sup2 sup3
  acute micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest Agrave Aacute Acirc Atilde Auml
  Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml ETH Ntilde Ograve Oacute Ocirc Otilde
  Ouml times Oslash Ugrave Uacute Ucirc Uuml Yacute THORN szlig agrave aacute acirc atilde auml aring aelig
  ccedil egrave eacute ecirc euml igrave iacute icirc iuml eth ntilde ograve oacute ocirc otilde ouml divide
  oslash ugrave uacute ucirc uuml yacute thorn yuml; 338 OElig oelig; 352 Scaron scaron; 376 Yuml; 402 fnof;
  710 circ; 732 tilde; 913 Alpha Beta Gamma Delta Epsilon Zeta Eta Theta Iota Kappa Lambda Mu Nu Xi Omicron Pi
  Rho; 931 Sigma Tau Upsilon Phi Chi Psi Omega; 945 alpha beta gamma delta epsilon zeta eta theta iota kappa
  lambda mu nu xi omicron pi rho sigmaf sigma tau upsilon phi chi psi omega; 977 thetasym upsih; 982 piv; 8194
  ensp emsp; 8201 thinsp; 8204 zwnj zwj lrm rlm; 8211 ndash mdash; 8216 lsquo rsquo sbquo; 8220 ldquo rdquo
  bdquo; 8224 dagger Dagger bull; 8230 hellip; 8240 permil; 8242 prime Prime; 8249 lsaquo rsaquo; 8254 oline;
  8260 frasl; 8364 euro; 8465 image; 8472 weierp; 8476 real; 8482 trade; 8501 alefsym; 8592 larr uarr rarr
  darr harr; 8629 crarr; 8656 lArr uArr rArr dArr hArr; 8704 forall; 8706 part exist; 8709 empty; 8711 nabla
  isin notin; 8715 ni; 8719 prod; 8721 sum minus; 8727 lowast; 8730 radic; 8733 prop infin; 8736 ang; 8743 and
  or cap cup int; 8756 there4; 8764 sim; 8773 cong; 8776 asymp; 8800 ne equiv; 8804 le ge; 8834 sub sup nsub;
  8838 sube supe; 8853 oplus; 8855 otimes; 8869 perp; 8901 sdot; 8968 lceil rceil lfloor rfloor; 9001 lang
  rang; 9674 loz; 9824 spades; 9827 clubs; 9829 hearts diams`;
const HTML_ENTITIES = new Map<string, number>();
for (const group of HTML_ENTITY_GROUPS.split(';')) {
  const [first, ...names] = group.trim().split(/\s+/);
  for (const [i, name] of names.entries()) HTML_ENTITIES.set(name, Number(first) + i);
}
const XML_ENTITIES = new Map([
  ['amp', 38],
  ['lt', 60],
  ['gt', 62],
  ['quot', 34],
  ['apos', 39],
]);

const NAMED_REFERENCE = /[A-Za-z_:][\w.:-]*;/y;
const NUMERIC_REFERENCE = /#(?:([0-9]+)|[xX]([0-9a-fA-F]+));/y;
const TEXT_SPECIAL = /[<&]/g;
const ATTRIBUTE_END = /["'&>]/g;

/** Receives each repair, in document order: the original text from `from` to `to` becomes `replacement`. */
type Repair = (from: number, to: number, replacement: string) => void;

/**
 * Repairs `xml`; `maxLength` bounds the repaired text (a document of bare ampersands grows fivefold, and the
 * parser's cost with every reference in it).
 */
export function repairXml(xml: string, maxLength = Infinity): RepairedXml {
  // the text is built in chunks: a document with millions of repairs must not hold millions of pieces at once
  const chunks: string[] = [];
  let parts: string[] = [];
  let copied = 0; // the original is copied up to here
  let [length, repaired] = [xml.length, false];
  const { root, declaredEntities } = scan(xml, (from, to, replacement) => {
    length += replacement.length - (to - from);
    if (length > maxLength) throw new RepairLimitError(`repaired, the text would pass ${maxLength} characters`);
    parts.push(xml.slice(copied, from), replacement);
    [copied, repaired] = [to, true];
    if (parts.length >= 4096) {
      chunks.push(parts.join(''));
      parts = [];
    }
  });
  if (!repaired) return { text: xml, root, declaredEntities, originalOffset: (offset) => offset };
  parts.push(xml.slice(copied));
  chunks.push(parts.join(''));
  return { text: chunks.join(''), root, declaredEntities, originalOffset: (offset) => originalOffset(xml, offset) };
}

/** Where `offset` in the repaired text is in `xml`, found by repeating the scan rather than keeping every repair. */
function originalOffset(xml: string, offset: number): number {
  let [shift, original, done] = [0, offset, false];
  scan(xml, (from, to, replacement) => {
    const start = from + shift;
    if (done || start > offset) {
      done = true;
      return;
    }
    const end = start + replacement.length;
    // a position inside a replacement is where the replaced text starts
    original = offset < end ? from : to + (offset - end);
    shift += replacement.length - (to - from);
  });
  return original;
}

function scan(xml: string, replace: Repair): { root: string | null; declaredEntities: Set<string> } {
  // byte-order marks among the leading whitespace (sax accepts one only as the very first character)
  let i = 0;
  while (i < xml.length && /[\s\uFEFF]/.test(xml[i]!)) {
    if (xml[i] === '\uFEFF') replace(i, i + 1, '');
    i++;
  }

  let root: string | null = null;
  let declaredEntities = new Set<string>();
  /** An & at `at`: kept when it starts a reference the parser resolves or must refuse, else escaped. */
  const ampersand = (at: number) => {
    NUMERIC_REFERENCE.lastIndex = at + 1;
    const numeric = NUMERIC_REFERENCE.exec(xml);
    if (numeric) {
      const code = numeric[1] !== undefined ? Number.parseInt(numeric[1], 10) : Number.parseInt(numeric[2]!, 16);
      // a character XML forbids (a NUL, most controls) shows as the replacement character
      if (!isXmlChar(code)) replace(at, NUMERIC_REFERENCE.lastIndex, '&#xFFFD;');
      return;
    }
    NAMED_REFERENCE.lastIndex = at + 1;
    const named = NAMED_REFERENCE.exec(xml);
    if (!named) return replace(at, at + 1, '&amp;');
    const name = named[0].slice(0, -1);
    if (XML_ENTITIES.has(name)) return;
    // sax's lookup: the exact name, else the name in lower case (&NBSP;, &AMP;)
    const code =
      HTML_ENTITIES.get(name) ?? HTML_ENTITIES.get(name.toLowerCase()) ?? XML_ENTITIES.get(name.toLowerCase());
    if (code !== undefined) replace(at, NAMED_REFERENCE.lastIndex, `&#${code};`);
    else if (!declaredEntities.has(name)) replace(at, at + 1, '&amp;'); // an unknown name, shown as written
  };

  while (i < xml.length) {
    TEXT_SPECIAL.lastIndex = i;
    if (!TEXT_SPECIAL.exec(xml)) break;
    const at = TEXT_SPECIAL.lastIndex - 1;
    if (xml[at] === '&') {
      ampersand(at);
      i = at + 1;
    } else if (xml.startsWith('<!--', at)) i = skipPast(xml, at + 4, '-->');
    else if (xml.startsWith('<![CDATA[', at)) i = skipPast(xml, at + 9, ']]>');
    else if (xml[at + 1] === '?') i = skipPast(xml, at + 2, '?>');
    else if (/^<!DOCTYPE/i.test(xml.slice(at, at + 9))) {
      i = doctypeEnd(xml, at + 9);
      declaredEntities = new Set(
        Array.from(xml.slice(at, i).matchAll(/<!ENTITY\s+([^\s%"'>][^\s"'>]*)/g), (m) => m[1]!),
      );
    } else if (xml[at + 1] === '!') i = skipPast(xml, at + 2, '>');
    else if (xml[at + 1] === '/' || isNameStart(xml.charCodeAt(at + 1))) {
      if (root === null && xml[at + 1] !== '/') root = /^[^\s/>]+/.exec(xml.slice(at + 1, at + 200))?.[0] ?? null;
      i = tagEnd(xml, at + 1, ampersand);
    } else {
      // a < that cannot start markup ("a < b") is text
      replace(at, at + 1, '&lt;');
      i = at + 1;
    }
  }
  return { root, declaredEntities };
}

/** Where a line and column (both from 1) of `text` is, counting \r\n, \n and \r as line breaks. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let [line, lineStart] = [1, 0];
  const breaks = /\r\n?|\n/g;
  for (let m = breaks.exec(text); m && m.index < offset; m = breaks.exec(text)) {
    if (m.index + m[0].length > offset) break; // offset is the \n of a \r\n
    line++;
    lineStart = m.index + m[0].length;
  }
  return { line, column: offset - lineStart + 1 };
}

function skipPast(xml: string, from: number, end: string): number {
  const at = xml.indexOf(end, from);
  return at < 0 ? xml.length : at + end.length;
}

/** Past the > that ends a DOCTYPE, skipping its internal subset and quoted strings. */
function doctypeEnd(xml: string, from: number): number {
  let inSubset = false;
  for (let i = from; i < xml.length; i++) {
    const c = xml[i];
    if (c === '"' || c === "'") i = skipPast(xml, i + 1, c) - 1;
    else if (inSubset && xml.startsWith('<!--', i)) i = skipPast(xml, i + 4, '-->') - 1;
    else if (c === '[') inSubset = true;
    else if (c === ']') inSubset = false;
    else if (c === '>' && !inSubset) return i + 1;
  }
  return xml.length;
}

/** Past the > that ends a tag, repairing the ampersands in its quoted attribute values. */
function tagEnd(xml: string, from: number, ampersand: (at: number) => void): number {
  let quote: string | null = null;
  for (let i = from; ; ) {
    ATTRIBUTE_END.lastIndex = i;
    if (!ATTRIBUTE_END.exec(xml)) return xml.length;
    const at = ATTRIBUTE_END.lastIndex - 1;
    const c = xml[at];
    i = at + 1;
    if (c === '&') {
      if (quote) ampersand(at);
    } else if (c === '>') {
      if (!quote) return i;
    } else if (quote === c) quote = null;
    else if (!quote) quote = c!;
  }
}

function isNameStart(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95 || code === 58 || code >= 0x80;
}

/** The XML 1.0 Char production. */
function isXmlChar(code: number): boolean {
  return (
    code === 0x9 ||
    code === 0xa ||
    code === 0xd ||
    (code >= 0x20 && code <= 0xd7ff) ||
    (code >= 0xe000 && code <= 0xfffd) ||
    (code >= 0x10000 && code <= 0x10ffff)
  );
}
