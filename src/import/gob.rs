//! A strict reader for Go's `encoding/gob` wire format, as far as the original Pushgateway's
//! persistence file uses it.
//!
//! A gob stream is a sequence of messages: `uint length`, then `int type id`, then data. A
//! negative id defines type `-id` with a `wireType` value (array, slice, struct, map, or a type
//! that encodes itself: GobEncoder, BinaryMarshaler, TextMarshaler); a positive id is a value of
//! that type. A top-level value that is not a struct is preceded by a zero field delta.
//! Unsigned integers are one byte below 128, else the negated byte count and that many
//! big-endian bytes; signed integers fold the sign into bit 0; strings, byte slices and
//! self-encoded values are a length and the bytes; slices, arrays and maps a count and the
//! elements; structs a list of (field-number delta, value) ended by a zero delta, zero-valued
//! fields left out. Interface values are not read: the original never writes one.
//!
//! Hostile input: every length and count is checked against the bytes left in its message
//! before anything is allocated or looped over (every gob value takes at least one byte), and
//! nesting is limited to [`MAX_DEPTH`], so reading is linear in the input and never panics.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

/// A gob type id: predefined below [`FIRST_USER_ID`], defined by the stream from there on.
pub(crate) type TypeId = i64;

// Gob's predefined types (`encoding/gob/type.go`).
pub(crate) const BOOL: TypeId = 1;
pub(crate) const INT: TypeId = 2;
pub(crate) const UINT: TypeId = 3;
pub(crate) const FLOAT: TypeId = 4;
pub(crate) const BYTES: TypeId = 5;
pub(crate) const STRING: TypeId = 6;
pub(crate) const COMPLEX: TypeId = 7;
pub(crate) const INTERFACE: TypeId = 8;
/// Ids below this are gob's own (the types above and the parts of `wireType`).
pub(crate) const FIRST_USER_ID: TypeId = 64;

/// Deepest nesting of values this reader follows. The original's values nest five deep; the
/// limit keeps a hostile self-referencing type from exhausting the stack.
pub(crate) const MAX_DEPTH: usize = 64;

/// Input that is not the gob stream expected: where, what was expected there, what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GobError {
    /// Byte offset from the start of the stream.
    pub offset: usize,
    pub expected: Cow<'static, str>,
    pub found: String,
}

impl GobError {
    pub(crate) fn new(
        offset: usize,
        expected: impl Into<Cow<'static, str>>,
        found: impl Into<String>,
    ) -> Self {
        GobError {
            offset,
            expected: expected.into(),
            found: found.into(),
        }
    }
}

impl fmt::Display for GobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "at byte {}: expected {}, found {}",
            self.offset, self.expected, self.found
        )
    }
}

impl std::error::Error for GobError {}

/// The kind of a defined type, as its `wireType` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WireType {
    Array {
        elem: TypeId,
        len: u64,
    },
    Slice {
        elem: TypeId,
    },
    Struct {
        fields: Vec<Field>,
    },
    Map {
        key: TypeId,
        elem: TypeId,
    },
    /// Sent as the bytes its `GobEncode` returned.
    GobEncoder,
    /// Sent as the bytes its `MarshalBinary` returned.
    BinaryMarshaler,
    /// Sent as the bytes its `MarshalText` returned.
    TextMarshaler,
}

/// One field of a struct type, in wire order (field numbers count from 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    pub name: String,
    pub id: TypeId,
}

/// A type definition message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Definition {
    /// The Go name the encoder gave (often empty for struct types).
    pub name: String,
    pub wire: WireType,
    /// Where its message starts, for errors about it.
    pub offset: usize,
}

/// The types a stream has defined so far.
#[derive(Debug, Default)]
pub(crate) struct Types {
    defs: HashMap<TypeId, Definition>,
}

impl Types {
    pub(crate) fn get(&self, id: TypeId) -> Option<&Definition> {
        self.defs.get(&id)
    }

    /// A short Go-like spelling of a type, for error messages.
    pub(crate) fn describe(&self, id: TypeId) -> String {
        self.describe_nested(id, 0)
    }

    fn describe_nested(&self, id: TypeId, depth: usize) -> String {
        let builtin = match id {
            BOOL => "bool",
            INT => "int",
            UINT => "uint",
            FLOAT => "float",
            BYTES => "[]byte",
            STRING => "string",
            COMPLEX => "complex",
            INTERFACE => "interface",
            _ => "",
        };
        if !builtin.is_empty() {
            return builtin.to_owned();
        }
        let Some(def) = self.defs.get(&id) else {
            return format!("undefined type {id}");
        };
        if !def.name.is_empty() && depth > 0 {
            return def.name.clone();
        }
        if depth > 2 {
            return "…".to_owned();
        }
        let inner = |id| self.describe_nested(id, depth + 1);
        let shape = match &def.wire {
            WireType::Array { elem, len } => format!("[{len}]{}", inner(*elem)),
            WireType::Slice { elem } => format!("[]{}", inner(*elem)),
            WireType::Map { key, elem } => format!("map[{}]{}", inner(*key), inner(*elem)),
            WireType::Struct { fields } => {
                let mut names: Vec<&str> = fields.iter().take(8).map(|f| f.name.as_str()).collect();
                if fields.len() > 8 {
                    names.push("…");
                }
                format!("struct {{{}}}", names.join("; "))
            }
            WireType::GobEncoder => "GobEncoder".to_owned(),
            WireType::BinaryMarshaler => "BinaryMarshaler".to_owned(),
            WireType::TextMarshaler => "TextMarshaler".to_owned(),
        };
        if def.name.is_empty() {
            shape
        } else {
            format!("{} ({shape})", def.name)
        }
    }
}

/// A cursor over the stream, or over one message of it. Offsets are from the stream's start.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    /// The input, cut at the end of what this reader may read.
    data: &'a [u8],
    pos: usize,
    /// How errors name `data`'s end.
    end_name: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader {
            data: bytes,
            pos: 0,
            end_name: "the end of the file",
        }
    }

    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub(crate) fn is_at_end(&self) -> bool {
        self.pos == self.data.len()
    }

    /// Fails unless everything has been read.
    pub(crate) fn finish(&self) -> Result<(), GobError> {
        if self.is_at_end() {
            Ok(())
        } else {
            Err(GobError::new(
                self.pos,
                self.end_name,
                format!("{} more bytes", self.remaining()),
            ))
        }
    }

    /// An unsigned integer.
    pub(crate) fn uint(&mut self, what: &'static str) -> Result<u64, GobError> {
        let at = self.pos;
        let Some(&first) = self.data.get(at) else {
            return Err(GobError::new(at, what, self.end_name));
        };
        if first < 0x80 {
            self.pos += 1;
            return Ok(u64::from(first));
        }
        // The negated byte count, as a signed byte: 0xff is one byte, 0xf8 eight.
        let count = usize::from(first.wrapping_neg());
        if count > 8 {
            return Err(GobError::new(
                at,
                what,
                format!("an integer of {count} bytes (byte {first:#04x})"),
            ));
        }
        let Some(digits) = self.data.get(at + 1..at + 1 + count) else {
            return Err(GobError::new(at, what, self.end_name));
        };
        self.pos = at + 1 + count;
        Ok(digits.iter().fold(0, |n, &b| (n << 8) | u64::from(b)))
    }

    /// A signed integer: bit 0 is the sign, the rest the magnitude (complemented if negative).
    pub(crate) fn int(&mut self, what: &'static str) -> Result<i64, GobError> {
        let u = self.uint(what)?;
        let magnitude = (u >> 1) as i64; // < 2^63: fits.
        Ok(if u & 1 == 1 { !magnitude } else { magnitude })
    }

    /// A count of elements that follow. Each takes at least one byte, so a count above the
    /// bytes left cannot be right: refusing it bounds every loop and allocation by the input.
    pub(crate) fn count(&mut self, what: &'static str) -> Result<usize, GobError> {
        let at = self.pos;
        let n = self.uint(what)?;
        match usize::try_from(n) {
            Ok(n) if n <= self.remaining() => Ok(n),
            _ => Err(GobError::new(
                at,
                what,
                format!(
                    "{n}, more than the {} bytes left before {}",
                    self.remaining(),
                    self.end_name
                ),
            )),
        }
    }

    /// A byte string: a string, a `[]byte` or a self-encoded value.
    pub(crate) fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], GobError> {
        let at = self.pos;
        let len = self.uint(what)?;
        let rest = &self.data[self.pos..];
        match usize::try_from(len) {
            Ok(len) if len <= rest.len() => {
                self.pos += len;
                Ok(&rest[..len])
            }
            _ => Err(GobError::new(
                at,
                what,
                format!(
                    "a length of {len}, more than the {} bytes left before {}",
                    rest.len(),
                    self.end_name
                ),
            )),
        }
    }

    /// The zero field delta in front of a top-level value that is not a struct.
    pub(crate) fn singleton(&mut self) -> Result<(), GobError> {
        let at = self.pos;
        match self.uint("the field delta 0 of a top-level value")? {
            0 => Ok(()),
            n => Err(GobError::new(
                at,
                "the field delta 0 of a top-level value",
                n.to_string(),
            )),
        }
    }

    /// The next `len` bytes as a reader of their own; `self` moves past them.
    fn take(&mut self, len: u64, at: usize, end_name: &'static str) -> Result<Self, GobError> {
        match usize::try_from(len) {
            Ok(len) if len <= self.remaining() => {
                let sub = Reader {
                    data: &self.data[..self.pos + len],
                    pos: self.pos,
                    end_name,
                };
                self.pos += len;
                Ok(sub)
            }
            _ => Err(GobError::new(
                at,
                format!("a message of {len} bytes"),
                format!("{} bytes before {}", self.remaining(), self.end_name),
            )),
        }
    }

    /// Reads past one value of type `id`.
    pub(crate) fn skip(&mut self, types: &Types, id: TypeId) -> Result<(), GobError> {
        self.skip_nested(types, id, 0)
    }

    fn skip_nested(&mut self, types: &Types, id: TypeId, depth: usize) -> Result<(), GobError> {
        let at = self.pos;
        if depth > MAX_DEPTH {
            return Err(GobError::new(
                at,
                format!("values nested at most {MAX_DEPTH} deep"),
                "deeper nesting",
            ));
        }
        match id {
            BOOL | INT | UINT | FLOAT => self.uint("a number").map(drop),
            BYTES | STRING => self.bytes("a byte string").map(drop),
            COMPLEX => {
                self.uint("a complex number")?;
                self.uint("a complex number").map(drop)
            }
            INTERFACE => Err(GobError::new(
                at,
                "no interface value (the Pushgateway writes none)",
                "one",
            )),
            _ => {
                let Some(def) = types.get(id) else {
                    return Err(GobError::new(
                        at,
                        "a value of a defined type",
                        format!("a value of undefined type {id}"),
                    ));
                };
                match &def.wire {
                    WireType::Array { elem, len } => {
                        let n = self.count("an array length")?;
                        if n as u64 != *len {
                            return Err(GobError::new(
                                at,
                                format!("an array of {len} elements"),
                                format!("{n} elements"),
                            ));
                        }
                        for _ in 0..n {
                            self.skip_nested(types, *elem, depth + 1)?;
                        }
                    }
                    WireType::Slice { elem } => {
                        for _ in 0..self.count("a slice length")? {
                            self.skip_nested(types, *elem, depth + 1)?;
                        }
                    }
                    WireType::Map { key, elem } => {
                        for _ in 0..self.count("a map length")? {
                            self.skip_nested(types, *key, depth + 1)?;
                            self.skip_nested(types, *elem, depth + 1)?;
                        }
                    }
                    WireType::Struct { fields } => {
                        let mut numbers = FieldNumbers::new(fields.len());
                        while let Some(i) = numbers.next(self)? {
                            self.skip_nested(types, fields[i].id, depth + 1)?;
                        }
                    }
                    WireType::GobEncoder | WireType::BinaryMarshaler | WireType::TextMarshaler => {
                        self.bytes("an encoded value")?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// Walks a struct value's field deltas.
#[derive(Debug)]
pub(crate) struct FieldNumbers {
    /// The previous field number plus one (0 before the first field).
    next_min: u64,
    fields: usize,
}

impl FieldNumbers {
    pub(crate) fn new(fields: usize) -> Self {
        FieldNumbers {
            next_min: 0,
            fields,
        }
    }

    /// The number (from 0) of the next field present, or `None` at the struct's end.
    pub(crate) fn next(&mut self, r: &mut Reader<'_>) -> Result<Option<usize>, GobError> {
        let at = r.offset();
        let delta = r.uint("a field delta")?;
        if delta == 0 {
            return Ok(None);
        }
        // The previous number is `next_min - 1` (-1 before the first field); delta >= 1.
        let number = self
            .next_min
            .checked_add(delta)
            .map(|n| n - 1)
            .filter(|&n| n < self.fields as u64);
        match number {
            Some(n) => {
                self.next_min = n + 1;
                Ok(Some(n as usize))
            }
            None => Err(GobError::new(
                at,
                format!("a field delta within a struct of {} fields", self.fields),
                format!("the delta {delta}"),
            )),
        }
    }
}

/// A value message.
#[derive(Debug)]
pub(crate) struct Message<'a> {
    pub id: TypeId,
    /// Where the message starts.
    pub offset: usize,
    /// The value's bytes (after the type id).
    pub body: Reader<'a>,
}

/// A gob stream read message by message.
#[derive(Debug)]
pub(crate) struct Stream<'a> {
    reader: Reader<'a>,
    types: Types,
}

impl<'a> Stream<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Stream {
            reader: Reader::new(bytes),
            types: Types::default(),
        }
    }

    pub(crate) fn types(&self) -> &Types {
        &self.types
    }

    /// Reads type definitions up to the next value message; `None` at the end of the stream.
    pub(crate) fn next_value(&mut self) -> Result<Option<Message<'a>>, GobError> {
        while !self.reader.is_at_end() {
            let offset = self.reader.offset();
            let len = self.reader.uint("a message length")?;
            if len == 0 {
                return Err(GobError::new(offset, "a message length", "0"));
            }
            let mut body = self.reader.take(len, offset, "the end of the message")?;
            let id_at = body.offset();
            let id = body.int("a type id")?;
            if id > 0 {
                return Ok(Some(Message { id, offset, body }));
            }
            let defined = id.checked_neg().filter(|&id| id >= FIRST_USER_ID);
            let Some(defined) = defined else {
                return Err(GobError::new(
                    id_at,
                    format!("a type id, or a definition of a type id of {FIRST_USER_ID} or more"),
                    id.to_string(),
                ));
            };
            if self.types.defs.contains_key(&defined) {
                return Err(GobError::new(
                    id_at,
                    "a definition of a new type",
                    format!("type {defined} defined again"),
                ));
            }
            let (name, wire) = read_wire_type(&mut body)?;
            body.finish()?;
            self.types
                .defs
                .insert(defined, Definition { name, wire, offset });
        }
        Ok(None)
    }
}

/// A `wireType` value: exactly one of its seven pointer fields is present.
fn read_wire_type(r: &mut Reader<'_>) -> Result<(String, WireType), GobError> {
    let start = r.offset();
    let mut found = None;
    let mut numbers = FieldNumbers::new(7);
    while let Some(kind) = numbers.next(r)? {
        if found.is_some() {
            return Err(GobError::new(
                r.offset(),
                "one kind of type in a type definition",
                "a second one",
            ));
        }
        found = Some(match kind {
            0 => read_array_type(r)?,
            1 => read_slice_type(r)?,
            2 => read_struct_type(r)?,
            3 => read_map_type(r)?,
            4 => (read_common_type_only(r)?, WireType::GobEncoder),
            5 => (read_common_type_only(r)?, WireType::BinaryMarshaler),
            _ => (read_common_type_only(r)?, WireType::TextMarshaler),
        });
    }
    found.ok_or_else(|| GobError::new(start, "a kind of type in a type definition", "none"))
}

/// `CommonType{Name string; Id typeId}`: the name is kept, the id (informative, and not
/// always the defined id) is not.
fn read_common_type(r: &mut Reader<'_>) -> Result<String, GobError> {
    let mut name = String::new();
    let mut numbers = FieldNumbers::new(2);
    while let Some(field) = numbers.next(r)? {
        if field == 0 {
            name = String::from_utf8_lossy(r.bytes("a type name")?).into_owned();
        } else {
            r.int("a type id")?;
        }
    }
    Ok(name)
}

/// `gobEncoderType{CommonType}`.
fn read_common_type_only(r: &mut Reader<'_>) -> Result<String, GobError> {
    let mut name = String::new();
    let mut numbers = FieldNumbers::new(1);
    while numbers.next(r)?.is_some() {
        name = read_common_type(r)?;
    }
    Ok(name)
}

/// A type id inside a definition: a predefined or a user id (not necessarily defined yet:
/// recursive types refer to themselves).
fn read_type_ref(r: &mut Reader<'_>) -> Result<TypeId, GobError> {
    let at = r.offset();
    let id = r.int("a type id")?;
    if id > 0 {
        Ok(id)
    } else {
        Err(GobError::new(at, "a positive type id", id.to_string()))
    }
}

/// `arrayType{CommonType; Elem typeId; Len int}`.
fn read_array_type(r: &mut Reader<'_>) -> Result<(String, WireType), GobError> {
    let start = r.offset();
    let (mut name, mut elem, mut len) = (String::new(), None, 0);
    let mut numbers = FieldNumbers::new(3);
    while let Some(field) = numbers.next(r)? {
        match field {
            0 => name = read_common_type(r)?,
            1 => elem = Some(read_type_ref(r)?),
            _ => {
                let at = r.offset();
                let n = r.int("an array length")?;
                len = u64::try_from(n)
                    .map_err(|_| GobError::new(at, "an array length", n.to_string()))?;
            }
        }
    }
    let elem = elem.ok_or_else(|| GobError::new(start, "an array's element type", "none"))?;
    Ok((name, WireType::Array { elem, len }))
}

/// `sliceType{CommonType; Elem typeId}`.
fn read_slice_type(r: &mut Reader<'_>) -> Result<(String, WireType), GobError> {
    let start = r.offset();
    let (mut name, mut elem) = (String::new(), None);
    let mut numbers = FieldNumbers::new(2);
    while let Some(field) = numbers.next(r)? {
        match field {
            0 => name = read_common_type(r)?,
            _ => elem = Some(read_type_ref(r)?),
        }
    }
    let elem = elem.ok_or_else(|| GobError::new(start, "a slice's element type", "none"))?;
    Ok((name, WireType::Slice { elem }))
}

/// `mapType{CommonType; Key typeId; Elem typeId}`.
fn read_map_type(r: &mut Reader<'_>) -> Result<(String, WireType), GobError> {
    let start = r.offset();
    let (mut name, mut key, mut elem) = (String::new(), None, None);
    let mut numbers = FieldNumbers::new(3);
    while let Some(field) = numbers.next(r)? {
        match field {
            0 => name = read_common_type(r)?,
            1 => key = Some(read_type_ref(r)?),
            _ => elem = Some(read_type_ref(r)?),
        }
    }
    match (key, elem) {
        (Some(key), Some(elem)) => Ok((name, WireType::Map { key, elem })),
        _ => Err(GobError::new(
            start,
            "a map's key and element types",
            "none",
        )),
    }
}

/// `structType{CommonType; Field []*fieldType}` with `fieldType{Name string; Id typeId}`.
fn read_struct_type(r: &mut Reader<'_>) -> Result<(String, WireType), GobError> {
    let (mut name, mut fields) = (String::new(), Vec::new());
    let mut numbers = FieldNumbers::new(2);
    while let Some(field) = numbers.next(r)? {
        if field == 0 {
            name = read_common_type(r)?;
            continue;
        }
        for _ in 0..r.count("a number of struct fields")? {
            let start = r.offset();
            let (mut field_name, mut id) = (String::new(), None);
            let mut numbers = FieldNumbers::new(2);
            while let Some(part) = numbers.next(r)? {
                if part == 0 {
                    field_name = String::from_utf8_lossy(r.bytes("a field name")?).into_owned();
                } else {
                    id = Some(read_type_ref(r)?);
                }
            }
            let id = id.ok_or_else(|| GobError::new(start, "a struct field's type", "none"))?;
            fields.push(Field {
                name: field_name,
                id,
            });
        }
    }
    Ok((name, WireType::Struct { fields }))
}

/// Bytes for an error message: printable ASCII as is, the rest as `\xNN`, at most 40 shown.
pub(crate) fn escape(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in bytes.iter().take(40) {
        out.extend(std::ascii::escape_default(b).map(char::from));
    }
    out.push('"');
    if bytes.len() > 40 {
        out.push('…');
    }
    out
}

/// A gob writer just big enough to build test streams by hand.
#[cfg(test)]
pub(crate) mod testing {
    /// Gob's unsigned integer encoding.
    pub(crate) fn uint(n: u64) -> Vec<u8> {
        if n < 0x80 {
            return vec![n as u8];
        }
        let digits: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        let mut out = vec![(digits.len() as u8).wrapping_neg()];
        out.extend(digits);
        out
    }

    pub(crate) fn int(i: i64) -> Vec<u8> {
        uint(if i < 0 {
            (!(i as u64) << 1) | 1
        } else {
            (i as u64) << 1
        })
    }

    pub(crate) fn string(s: &[u8]) -> Vec<u8> {
        let mut out = uint(s.len() as u64);
        out.extend_from_slice(s);
        out
    }

    /// A message: its length, then the parts.
    pub(crate) fn message(parts: &[&[u8]]) -> Vec<u8> {
        let body = parts.concat();
        let mut out = uint(body.len() as u64);
        out.extend(body);
        out
    }

    /// The definition message of a struct type with the given fields.
    pub(crate) fn struct_def(id: i64, name: &[u8], fields: &[(&[u8], i64)]) -> Vec<u8> {
        let mut body = int(-id);
        body.extend([3, 1, 1]); // StructT, CommonType, Name
        body.extend(string(name));
        body.push(1); // Id
        body.extend(int(id));
        body.push(0); // end CommonType
        if !fields.is_empty() {
            body.push(1);
            body.extend(uint(fields.len() as u64));
            for (name, id) in fields {
                body.push(1);
                body.extend(string(name));
                body.push(1);
                body.extend(int(*id));
                body.push(0);
            }
        }
        body.extend([0, 0]); // end structType, wireType
        message(&[&body])
    }

    /// The definition message of `map[key]elem`.
    pub(crate) fn map_def(id: i64, name: &[u8], key: i64, elem: i64) -> Vec<u8> {
        let mut body = int(-id);
        body.extend([4, 1, 1]); // MapT, CommonType, Name
        body.extend(string(name));
        body.push(1); // Id
        body.extend(int(id));
        body.push(0); // end CommonType
        body.push(1);
        body.extend(int(key));
        body.push(1);
        body.extend(int(elem));
        body.extend([0, 0]); // end mapType, wireType
        message(&[&body])
    }

    /// The definition message of a type that encodes itself; `kind` is the `wireType` field
    /// number: 5 GobEncoder, 6 BinaryMarshaler, 7 TextMarshaler.
    pub(crate) fn encoder_def(id: i64, name: &[u8], kind: u8) -> Vec<u8> {
        let mut body = int(-id);
        body.extend([kind, 1, 1]);
        body.extend(string(name));
        body.extend([0, 0, 0]); // end CommonType, gobEncoderType, wireType
        message(&[&body])
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn unsigned_integers_read_as_go_writes_them() {
        for (bytes, n) in [
            (&[0x00][..], 0u64),
            (&[0x7f], 127),
            (&[0xff, 0x80], 128),
            (&[0xfe, 0x01, 0x00], 256),
            (
                &[0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                u64::MAX,
            ),
        ] {
            let mut r = Reader::new(bytes);
            assert_eq!(r.uint("n").unwrap(), n);
            assert!(r.is_at_end());
            assert_eq!(uint(n), bytes);
        }
    }

    #[test]
    fn signed_integers_fold_the_sign_into_bit_zero() {
        for i in [0, 1, -1, 63, -64, 64, 71, -71, i64::MAX, i64::MIN] {
            let bytes = int(i);
            assert_eq!(Reader::new(&bytes).int("i").unwrap(), i, "{i}");
        }
        assert_eq!(int(-71), [0xff, 0x8d]); // The original's first definition: type 71.
    }

    #[test]
    fn an_integer_of_nine_bytes_is_refused() {
        let err = Reader::new(&[0xf7, 1, 2, 3, 4, 5, 6, 7, 8, 9])
            .uint("a count")
            .unwrap_err();
        assert_eq!(err.offset, 0);
        assert_eq!(
            err.to_string(),
            "at byte 0: expected a count, found an integer of 9 bytes (byte 0xf7)"
        );
    }

    #[test]
    fn a_truncated_integer_is_an_error_at_its_start() {
        let mut r = Reader::new(&[0x05, 0xfe, 0x01]);
        r.uint("x").unwrap();
        let err = r.uint("a length").unwrap_err();
        assert_eq!((err.offset, err.found.as_str()), (1, "the end of the file"));
    }

    #[test]
    fn a_length_beyond_the_input_is_refused_before_allocating() {
        let mut bytes = uint(u64::MAX);
        bytes.extend(b"abc");
        let err = Reader::new(&bytes).bytes("a label value").unwrap_err();
        assert_eq!(err.offset, 0);
        assert_eq!(
            err.found,
            "a length of 18446744073709551615, more than the 3 bytes left before the end of the file"
        );
        let err = Reader::new(&[0x04, 1, 2, 3])
            .count("a map length")
            .unwrap_err();
        assert!(
            err.found.starts_with("4, more than the 3 bytes left"),
            "{err}"
        );
    }

    #[test]
    fn field_deltas_count_from_minus_one_and_stay_within_the_struct() {
        let mut r = Reader::new(&[1, 2, 0, 1, 3]);
        let mut numbers = FieldNumbers::new(3);
        assert_eq!(numbers.next(&mut r).unwrap(), Some(0));
        assert_eq!(numbers.next(&mut r).unwrap(), Some(2));
        assert_eq!(numbers.next(&mut r).unwrap(), None);
        let mut numbers = FieldNumbers::new(2);
        assert_eq!(numbers.next(&mut r).unwrap(), Some(0));
        let err = numbers.next(&mut r).unwrap_err();
        assert_eq!(err.offset, 4);
        assert_eq!(err.expected, "a field delta within a struct of 2 fields");
        let huge = uint(u64::MAX);
        let mut r = Reader::new(&huge);
        assert!(FieldNumbers::new(2).next(&mut r).is_err());
    }

    #[test]
    fn definitions_are_collected_until_a_value_message() {
        let mut bytes = struct_def(65, b"Pair", &[(b"A", STRING), (b"B", INT)]);
        bytes.extend(message(&[
            &int(65),
            &[1],
            &string(b"x"),
            &[1],
            &int(-3),
            &[0],
        ]));
        let mut stream = Stream::new(&bytes);
        let mut value = stream.next_value().unwrap().unwrap();
        assert_eq!(value.id, 65);
        let def = stream.types().get(65).unwrap();
        assert_eq!(def.name, "Pair");
        assert_eq!(stream.types().describe(65), "Pair (struct {A; B})");
        value.body.skip(stream.types(), 65).unwrap();
        value.body.finish().unwrap();
        assert!(stream.next_value().unwrap().is_none());
    }

    #[test]
    fn a_type_defined_twice_is_refused() {
        let mut bytes = struct_def(65, b"A", &[]);
        let second = bytes.len();
        bytes.extend(struct_def(65, b"B", &[]));
        let err = Stream::new(&bytes).next_value().unwrap_err();
        assert_eq!(err.offset, second + 1);
        assert_eq!(err.found, "type 65 defined again");
    }

    #[test]
    fn a_definition_of_a_predefined_id_is_refused() {
        let bytes = struct_def(6, b"string", &[]);
        let err = Stream::new(&bytes).next_value().unwrap_err();
        assert_eq!(err.found, "-6");
    }

    #[test]
    fn a_value_of_an_undefined_type_cannot_be_skipped() {
        let bytes = message(&[&int(70), &[0]]);
        let mut stream = Stream::new(&bytes);
        let mut value = stream.next_value().unwrap().unwrap();
        let err = value.body.skip(stream.types(), 70).unwrap_err();
        assert_eq!(err.found, "a value of undefined type 70");
    }

    #[test]
    fn a_message_longer_than_the_file_is_refused() {
        let mut bytes = struct_def(65, b"A", &[]);
        bytes.truncate(bytes.len() - 1);
        let err = Stream::new(&bytes).next_value().unwrap_err();
        assert_eq!(err.offset, 0);
        assert!(
            err.found.ends_with("bytes before the end of the file"),
            "{err}"
        );
    }

    #[test]
    fn deep_nesting_of_a_recursive_type_is_refused_without_exhausting_the_stack() {
        // type Node struct { Next *Node }: 100,000 nodes deep.
        let mut bytes = struct_def(65, b"Node", &[(b"Next", 65)]);
        let depth = 100_000;
        let mut value = int(65);
        value.extend(std::iter::repeat_n(1, depth));
        value.extend(std::iter::repeat_n(0, depth + 1));
        bytes.extend(message(&[&value]));
        let mut stream = Stream::new(&bytes);
        let mut value = stream.next_value().unwrap().unwrap();
        let err = value.body.skip(stream.types(), 65).unwrap_err();
        assert_eq!(err.expected, "values nested at most 64 deep");
    }

    #[test]
    fn arrays_slices_maps_and_encoded_values_are_skipped() {
        // struct { A [2]int; S []string; M map[string]float; E GobEncoder; C complex }
        let mut bytes = message(&[
            &int(-66),
            &[1, 1, 2],
            &int(66),
            &[0, 1],
            &int(INT),
            &[1],
            &int(2),
            &[0, 0],
        ]);
        bytes.extend(message(&[
            &int(-67),
            &[2, 1, 2],
            &int(67),
            &[0, 1],
            &int(STRING),
            &[0, 0],
        ]));
        bytes.extend(message(&[
            &int(-68),
            &[4, 1, 2],
            &int(68),
            &[0, 1],
            &int(STRING),
            &[1],
            &int(FLOAT),
            &[0, 0],
        ]));
        bytes.extend(message(&[
            &int(-69),
            &[5, 1, 1],
            &string(b"Time"),
            &[0, 0, 0],
        ]));
        bytes.extend(struct_def(
            65,
            b"All",
            &[
                (b"A", 66),
                (b"S", 67),
                (b"M", 68),
                (b"E", 69),
                (b"C", COMPLEX),
            ],
        ));
        let mut value = int(65);
        value.extend([1, 2, 2, 0xff, 0x80]); // A: [1, 64]
        value.extend([1, 2, 1, b'x', 0]); // S: ["x", ""]
        value.extend([1, 1, 1, b'k', 0xf8, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]); // M: {"k": 1.0}
        value.extend([1, 3, 1, 2, 3]); // E: 3 bytes
        value.extend([1, 2, 4]); // C: (1+2i)
        value.push(0);
        bytes.extend(message(&[&value]));
        let mut stream = Stream::new(&bytes);
        let mut value = stream.next_value().unwrap().unwrap();
        assert_eq!(stream.types().describe(65), "All (struct {A; S; M; E; C})");
        assert_eq!(stream.types().describe(68), "map[string]float");
        value.body.skip(stream.types(), 65).unwrap();
        value.body.finish().unwrap();
    }

    #[test]
    fn an_array_value_must_have_the_defined_length() {
        let mut bytes = message(&[
            &int(-66),
            &[1, 1, 2],
            &int(66),
            &[0, 1],
            &int(INT),
            &[1],
            &int(2),
            &[0, 0],
        ]);
        bytes.extend(message(&[&int(66), &[0, 1, 2]]));
        let mut stream = Stream::new(&bytes);
        let mut value = stream.next_value().unwrap().unwrap();
        value.body.singleton().unwrap();
        let err = value.body.skip(stream.types(), 66).unwrap_err();
        assert_eq!(
            (err.expected.as_ref(), err.found.as_str()),
            ("an array of 2 elements", "1 elements")
        );
    }

    #[test]
    fn interface_values_are_not_read() {
        let bytes = message(&[&int(65), &[0]]);
        let mut stream = Stream::new(&bytes);
        let mut value = stream.next_value().unwrap().unwrap();
        assert!(value.body.skip(stream.types(), INTERFACE).is_err());
    }
}
