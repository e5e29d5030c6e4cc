// json.js: checks JSON text and says where it is wrong (line and column),
// the same in every browser. A checked text is sent as the user wrote it,
// so that numbers keep every digit.

// check returns {ok: true, value} or {ok: false, line, col, message}.
// object: the value must be a JSON object; empty text passes as null when
// allowEmpty.
export function check(text, {object = false, allowEmpty = false} = {}) {
  if (allowEmpty && text.trim() === '') return {ok: true, value: null, empty: true};
  const p = new Parser(text);
  try {
    p.ws();
    const start = p.i;
    const v = p.value();
    p.ws();
    if (p.i < text.length) p.fail('unexpected text after the end of the JSON value');
    if (object && (v === null || typeof v !== 'object' || Array.isArray(v))) {
      p.i = start;
      p.fail(`must be a JSON object ({ "name": value, ... }), not ${Array.isArray(v) ? 'an array' : v === null ? 'null' : 'a ' + typeof v}`);
    }
    return {ok: true, value: v};
  } catch (e) {
    if (!(e instanceof Failure)) throw e;
    const {line, col} = position(text, e.at);
    return {ok: false, line, col, message: e.message};
  }
}

class Failure extends Error {
  constructor(message, at) {
    super(message);
    this.at = at;
  }
}

// position turns an offset into a 1-based line and column (in characters).
export function position(text, at) {
  let line = 1, col = 1;
  for (let i = 0; i < at && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  return {line, col};
}

const maxDepth = 500;

class Parser {
  constructor(t) {
    this.t = t;
    this.i = 0;
    this.depth = 0;
  }
  fail(msg, at = this.i) {
    throw new Failure(msg, at);
  }
  ws() {
    while (this.i < this.t.length && ' \t\n\r'.includes(this.t[this.i])) this.i++;
  }
  what() {
    if (this.i >= this.t.length) return 'the end of the text';
    const c = this.t[this.i];
    return c === "'" ? 'a single quote (JSON strings take double quotes)' : `"${c}"`;
  }
  value() {
    const c = this.t[this.i];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]]) {
      if (this.t.startsWith(word, this.i)) {
        this.i += word.length;
        return v;
      }
    }
    if (/[A-Za-z_]/.test(c || '')) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.t.slice(this.i));
      const w = m[0];
      const hint = w === 'True' || w === 'False' || w === 'None' ? ` (JSON writes ${w === 'None' ? 'null' : w.toLowerCase()})` : ' (a string needs double quotes)';
      this.fail(`expected a value, found ${w}${hint}`);
    }
    this.fail(`expected a value, found ${this.what()}`);
  }
  nest() {
    if (++this.depth > maxDepth) this.fail(`nested deeper than ${maxDepth} levels`);
  }
  object() {
    this.nest();
    const o = {};
    this.i++;
    this.ws();
    if (this.t[this.i] === '}') {
      this.i++;
      this.depth--;
      return o;
    }
    for (;;) {
      this.ws();
      if (this.t[this.i] !== '"') {
        this.fail(this.t[this.i] === '}' ? 'a comma before "}" (JSON allows no trailing comma)' : `expected a name in double quotes, found ${this.what()}`);
      }
      const k = this.string();
      this.ws();
      if (this.t[this.i] !== ':') this.fail(`expected ":" after the name "${k}", found ${this.what()}`);
      this.i++;
      this.ws();
      Object.defineProperty(o, k, {value: this.value(), enumerable: true, writable: true, configurable: true});
      this.ws();
      const c = this.t[this.i];
      if (c === ',') {
        this.i++;
        continue;
      }
      if (c === '}') {
        this.i++;
        this.depth--;
        return o;
      }
      this.fail(`expected "," or "}", found ${this.what()}`);
    }
  }
  array() {
    this.nest();
    const a = [];
    this.i++;
    this.ws();
    if (this.t[this.i] === ']') {
      this.i++;
      this.depth--;
      return a;
    }
    for (;;) {
      this.ws();
      if (this.t[this.i] === ']') this.fail('a comma before "]" (JSON allows no trailing comma)');
      a.push(this.value());
      this.ws();
      const c = this.t[this.i];
      if (c === ',') {
        this.i++;
        continue;
      }
      if (c === ']') {
        this.i++;
        this.depth--;
        return a;
      }
      this.fail(`expected "," or "]", found ${this.what()}`);
    }
  }
  string() {
    const start = this.i;
    this.i++;
    let out = '';
    for (;;) {
      if (this.i >= this.t.length) this.fail('a string that never ends (a closing " is missing)', start);
      const c = this.t[this.i];
      if (c === '"') {
        this.i++;
        return out;
      }
      if (c === '\n') this.fail('a line break inside a string (write \\n)');
      if (c < ' ') this.fail('a control character inside a string (escape it)');
      if (c === '\\') {
        const e = this.t[this.i + 1];
        const map = {'"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t'};
        if (e in map) {
          out += map[e];
          this.i += 2;
        } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(this.t.slice(this.i + 2, this.i + 6))) {
          out += String.fromCharCode(parseInt(this.t.slice(this.i + 2, this.i + 6), 16));
          this.i += 6;
        } else {
          this.fail(`"\\${e ?? ''}" is not an escape JSON knows`);
        }
        continue;
      }
      out += c;
      this.i++;
    }
  }
  number() {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.t.slice(this.i));
    if (!m) this.fail(`a malformed number`);
    const next = this.t[this.i + m[0].length];
    if (next && /[0-9.eExX]/.test(next)) this.fail('a malformed number (no leading zeros, hex or trailing dot in JSON)');
    this.i += m[0].length;
    return Number(m[0]);
  }
}
