//! Resource type `release-file`, in Zig: a release described by a small text file.
//!
//! source: {"path": "/dirs/<name>/<file>"}, the file in the sandbox. Its first non-empty line
//! names the release (`1.4.0`); the rest is free (a changelog, `key=value` facts). A version is
//! `{release: <first line>, sha256: <first 16 hex digits of the file's SHA-256>}`.
//!
//! - `check`: the file's current version (none while the file is missing or empty). The file
//!   holds one release at a time, so `from` is returned only when it is still the current one.
//! - `get`: copies the file to `/output/<file name>`; `not-found` when the requested version is
//!   no longer the current one.
//! - `put` params {"from_file": "<input>/<relative path>"}: replaces the file (atomically) with
//!   that file of an input: a deployment of the release into the directory of `source.path`.
//!
//! Errors: `invalid-config` names the field; `not-found` for a missing file or version;
//! `failed` for I/O errors. File I/O goes through wasi-libc (`std.c`), which maps the sandbox's
//! preopened directories (/inputs, /output, /cache, /dirs) to absolute paths.
//!
//! The bindings (`bindings` below) are `zig translate-c` of the header `wit-bindgen c` generated
//! in ../bindings (see build.sh). Memory rule of those bindings: everything returned to the host
//! must come from malloc (the generated post-return functions free it); arguments received from
//! the host are owned by the callee and are freed here.

const std = @import("std");
const b = @import("bindings");

const Str = b.resource_type_string_t;
const PluginError = b.exports_lockgate_plugin_resource_ops_plugin_error_t;
const Version = b.exports_lockgate_plugin_resource_ops_version_t;
const Fetched = b.exports_lockgate_plugin_resource_ops_fetched_t;
const Pair = b.lockgate_plugin_types_pair_t;

const plugin_name = "release-file";
const plugin_version = "0.1.0";

// build.sh embeds the world's component type with `wasm-tools component embed` instead of
// linking the object file `wit-bindgen c` can write (binary, so not committed); this defines
// the symbol that object would have defined.
export fn __component_type_object_force_link_resource_type() callconv(.c) void {}

// ---- strings handed to the host (malloc'd) ------------------------------------------------

fn dupe(text: []const u8) Str {
    if (text.len == 0) return .{ .ptr = null, .len = 0 };
    const p: [*]u8 = @ptrCast(std.c.malloc(text.len) orelse @panic("out of memory"));
    @memcpy(p[0..text.len], text);
    return .{ .ptr = p, .len = text.len };
}

fn slice(s: Str) []const u8 {
    if (s.len == 0) return "";
    return s.ptr[0..s.len];
}

fn pairs(items: []const [2][]const u8) [*c]Pair {
    const p: [*]Pair = @ptrCast(@alignCast(std.c.malloc(items.len * @sizeOf(Pair)) orelse @panic("out of memory")));
    for (items, 0..) |item, i| p[i] = .{ .name = dupe(item[0]), .value = dupe(item[1]) };
    return p;
}

// ---- errors -------------------------------------------------------------------------------

const Failure = error{Reported};

/// Fills the WIT error `err` (kind `tag`) with a formatted message.
fn fail(err: *PluginError, tag: u8, comptime fmt: []const u8, args: anytype) Failure {
    var buf: [1024]u8 = undefined;
    const text = std.fmt.bufPrint(&buf, fmt, args) catch buf[0..];
    err.tag = tag;
    err.val.failed = dupe(text); // the three cases hold a string at the same place
    return error.Reported;
}

const invalid_config = b.LOCKGATE_PLUGIN_TYPES_PLUGIN_ERROR_INVALID_CONFIG;
const not_found = b.LOCKGATE_PLUGIN_TYPES_PLUGIN_ERROR_NOT_FOUND;
const failed = b.LOCKGATE_PLUGIN_TYPES_PLUGIN_ERROR_FAILED;

fn log(level: u8, comptime fmt: []const u8, args: anytype) void {
    var buf: [1024]u8 = undefined;
    const text = std.fmt.bufPrint(&buf, fmt, args) catch buf[0..];
    var s: Str = .{ .ptr = @constCast(text.ptr), .len = text.len };
    b.lockgate_plugin_host_log(level, &s);
}

// ---- files through wasi-libc ---------------------------------------------------------------

/// The name of the current errno (`NOENT`, `ROFS`, ...).
fn errnoName() []const u8 {
    const e: std.c.E = @enumFromInt(std.c._errno().*);
    return std.enums.tagName(std.c.E, e) orelse "unknown error";
}

/// The whole file, or null when it does not exist.
fn readFile(alloc: std.mem.Allocator, path: []const u8, err: *PluginError) Failure!?[]u8 {
    const z = alloc.dupeSentinel(u8, path, 0) catch @panic("out of memory");
    const f = std.c.fopen(z, "rb") orelse {
        if (std.c._errno().* == @intFromEnum(std.c.E.NOENT)) return null;
        return fail(err, failed, "{s}: cannot open ({s})", .{ path, errnoName() });
    };
    defer _ = std.c.fclose(f);
    var data: std.ArrayList(u8) = .empty;
    var chunk: [4096]u8 = undefined;
    while (true) {
        const n = std.c.fread(&chunk, 1, chunk.len, f);
        data.appendSlice(alloc, chunk[0..n]) catch @panic("out of memory");
        if (n < chunk.len) break;
    }
    return data.items;
}

/// Replaces `path` with `data`: writes `<path>.lockgate-tmp`, then renames it.
fn writeFileAtomic(alloc: std.mem.Allocator, path: []const u8, data: []const u8, err: *PluginError) Failure!void {
    const tmp = std.fmt.allocPrintSentinel(alloc, "{s}.lockgate-tmp", .{path}, 0) catch @panic("out of memory");
    const z = alloc.dupeSentinel(u8, path, 0) catch @panic("out of memory");
    const f = std.c.fopen(tmp, "wb") orelse
        return fail(err, failed, "{s}: cannot create ({s}): is the directory granted writable?", .{ tmp, errnoName() });
    const written = std.c.fwrite(data.ptr, 1, data.len, f);
    if (std.c.fclose(f) != 0 or written != data.len) {
        _ = std.c.unlink(tmp);
        return fail(err, failed, "{s}: cannot write ({s})", .{ tmp, errnoName() });
    }
    if (std.c.rename(tmp, z) != 0) {
        _ = std.c.unlink(tmp);
        return fail(err, failed, "{s}: cannot replace ({s})", .{ path, errnoName() });
    }
}

// ---- the release file ------------------------------------------------------------------------

const Release = struct {
    name: []const u8,
    digest: [16]u8,
};

fn describeRelease(data: []const u8) ?Release {
    var lines = std.mem.splitScalar(u8, data, '\n');
    const name = while (lines.next()) |line| {
        const t = std.mem.trim(u8, line, " \t\r");
        if (t.len > 0) break t;
    } else return null;
    var hash: [32]u8 = undefined;
    std.crypto.hash.sha2.Sha256.hash(data, &hash, .{});
    const hex = std.fmt.bytesToHex(hash, .lower);
    return .{ .name = name, .digest = hex[0..16].* };
}

fn versionOf(r: Release) Version {
    return .{ .ptr = pairs(&.{ .{ "release", r.name }, .{ "sha256", &r.digest } }), .len = 2 };
}

fn versionValue(v: *const Version, name: []const u8) ?[]const u8 {
    if (v.len == 0) return null;
    for (v.ptr[0..v.len]) |p| if (std.mem.eql(u8, slice(p.name), name)) return slice(p.value);
    return null;
}

const Source = struct { path: []const u8 };
const PutParams = struct { from_file: []const u8 };
const NoParams = struct {};

fn parse(comptime T: type, alloc: std.mem.Allocator, what: []const u8, json: []const u8, err: *PluginError) Failure!T {
    const text = if (std.mem.trim(u8, json, " \t\r\n").len == 0) "{}" else json;
    return std.json.parseFromSliceLeaky(T, alloc, text, .{}) catch |e| switch (e) {
        error.UnknownField => fail(err, invalid_config, "{s}: unknown field (see the schema: `lockgate plugin inspect`)", .{what}),
        error.MissingField => fail(err, invalid_config, "{s}: a required field is missing (see the schema: `lockgate plugin inspect`)", .{what}),
        else => fail(err, invalid_config, "{s}: invalid ({s})", .{ what, @errorName(e) }),
    };
}

fn sourcePath(source: Source, err: *PluginError) Failure![]const u8 {
    const p = source.path;
    if (p.len < 2 or p[0] != '/' or p[p.len - 1] == '/')
        return fail(err, invalid_config, "source.path: `{s}` must be the absolute path of a file in the sandbox, e.g. /dirs/state/RELEASE", .{p});
    return p;
}

// ---- the operations ----------------------------------------------------------------------

const source_schema =
    \\{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
    \\"properties":{"path":{"type":"string","pattern":"^/","description":"Absolute path of the release file in the sandbox, e.g. /dirs/state/RELEASE"}},
    \\"required":["path"],"additionalProperties":false}
;
const get_params_schema =
    \\{"$schema":"https://json-schema.org/draft/2020-12/schema","description":"get takes no params.","type":"object","additionalProperties":false}
;
const put_params_schema =
    \\{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
    \\"properties":{"from_file":{"type":"string","description":"<input>/<relative path> of the release file to deploy"}},
    \\"required":["from_file"],"additionalProperties":false}
;

export fn exports_lockgate_plugin_resource_ops_describe(ret: *b.exports_lockgate_plugin_resource_ops_description_t) callconv(.c) void {
    ret.* = std.mem.zeroes(b.exports_lockgate_plugin_resource_ops_description_t);
    ret.name = dupe(plugin_name);
    ret.version = dupe(plugin_version);
    ret.kind = b.LOCKGATE_PLUGIN_TYPES_PLUGIN_KIND_RESOURCE_TYPE;
    ret.summary = dupe("A release described by a text file; put deploys it into another directory");
    ret.source_schema = .{ .is_some = true, .val = dupe(source_schema) };
    ret.get_params_schema = .{ .is_some = true, .val = dupe(get_params_schema) };
    ret.put_params_schema = .{ .is_some = true, .val = dupe(put_params_schema) };
    // No network or environment; the directory holding the file is granted by the pipeline
    // under a name of its choosing, so none is declared here.
}

export fn exports_lockgate_plugin_resource_ops_check(
    source: *Str,
    maybe_from: ?*Version,
    ret: *b.exports_lockgate_plugin_resource_ops_list_version_t,
    err: *PluginError,
) callconv(.c) bool {
    var arena = std.heap.ArenaAllocator.init(std.heap.c_allocator);
    defer arena.deinit();
    defer b.exports_lockgate_plugin_resource_ops_json_free(source);
    defer if (maybe_from) |v| b.exports_lockgate_plugin_resource_ops_version_free(v);
    check(arena.allocator(), slice(source.*), maybe_from, ret) catch |e| return reported(e, err);
    return true;
}

fn check(alloc: std.mem.Allocator, source_json: []const u8, from: ?*Version, ret: *b.exports_lockgate_plugin_resource_ops_list_version_t) !void {
    const err = &pending;
    const path = try sourcePath(try parse(Source, alloc, "source", source_json, err), err);
    ret.* = .{ .ptr = null, .len = 0 };
    const data = (try readFile(alloc, path, err)) orelse {
        log(b.LOCKGATE_PLUGIN_HOST_LEVEL_DEBUG, "{s} does not exist yet: no version", .{path});
        return;
    };
    const release = describeRelease(data) orelse return;
    if (from) |v| {
        const same = std.mem.eql(u8, versionValue(v, "sha256") orelse "", &release.digest);
        log(b.LOCKGATE_PLUGIN_HOST_LEVEL_DEBUG, "from is {s}", .{if (same) "the current version" else "gone"});
    }
    const p: [*]Version = @ptrCast(@alignCast(std.c.malloc(@sizeOf(Version)) orelse @panic("out of memory")));
    p[0] = versionOf(release);
    ret.* = .{ .ptr = p, .len = 1 };
}

export fn exports_lockgate_plugin_resource_ops_get(
    source: *Str,
    version: *Version,
    params: *Str,
    ret: *Fetched,
    err: *PluginError,
) callconv(.c) bool {
    var arena = std.heap.ArenaAllocator.init(std.heap.c_allocator);
    defer arena.deinit();
    defer b.exports_lockgate_plugin_resource_ops_json_free(source);
    defer b.exports_lockgate_plugin_resource_ops_json_free(params);
    defer b.exports_lockgate_plugin_resource_ops_version_free(version);
    get(arena.allocator(), slice(source.*), version, slice(params.*), ret) catch |e| return reported(e, err);
    return true;
}

fn get(alloc: std.mem.Allocator, source_json: []const u8, version: *Version, params_json: []const u8, ret: *Fetched) !void {
    const err = &pending;
    const path = try sourcePath(try parse(Source, alloc, "source", source_json, err), err);
    _ = try parse(NoParams, alloc, "params", params_json, err);
    const wanted = versionValue(version, "sha256") orelse
        return fail(err, invalid_config, "version: no `sha256` field", .{});
    const data = (try readFile(alloc, path, err)) orelse
        return fail(err, not_found, "{s} does not exist", .{path});
    const release = describeRelease(data) orelse
        return fail(err, not_found, "{s} is empty", .{path});
    if (!std.mem.eql(u8, wanted, &release.digest))
        return fail(err, not_found, "version sha256 {s} is gone: {s} now holds release {s} (sha256 {s})", .{ wanted, path, release.name, &release.digest });
    const base = std.fs.path.basename(path);
    const out = std.fmt.allocPrint(alloc, "/output/{s}", .{base}) catch @panic("out of memory");
    try writeFileAtomic(alloc, out, data, err);
    ret.* = fetched(alloc, release, path, data.len);
}

export fn exports_lockgate_plugin_resource_ops_put(
    source: *Str,
    params: *Str,
    ret: *Fetched,
    err: *PluginError,
) callconv(.c) bool {
    var arena = std.heap.ArenaAllocator.init(std.heap.c_allocator);
    defer arena.deinit();
    defer b.exports_lockgate_plugin_resource_ops_json_free(source);
    defer b.exports_lockgate_plugin_resource_ops_json_free(params);
    put(arena.allocator(), slice(source.*), slice(params.*), ret) catch |e| return reported(e, err);
    return true;
}

fn put(alloc: std.mem.Allocator, source_json: []const u8, params_json: []const u8, ret: *Fetched) !void {
    const err = &pending;
    const path = try sourcePath(try parse(Source, alloc, "source", source_json, err), err);
    const params = try parse(PutParams, alloc, "params", params_json, err);
    const from = params.from_file;
    const slash = std.mem.indexOfScalar(u8, from, '/') orelse 0;
    if (slash == 0 or slash + 1 >= from.len or std.mem.indexOf(u8, from, "..") != null)
        return fail(err, invalid_config, "params.from_file: `{s}` must be <input>/<relative path>, e.g. release/RELEASE", .{from});
    try requireInput(from[0..slash], err);
    const input_path = std.fmt.allocPrint(alloc, "/inputs/{s}", .{from}) catch @panic("out of memory");
    const data = (try readFile(alloc, input_path, err)) orelse
        return fail(err, not_found, "params.from_file: {s} does not exist", .{from});
    const release = describeRelease(data) orelse
        return fail(err, failed, "params.from_file: {s} is empty: no release to deploy", .{from});
    try writeFileAtomic(alloc, path, data, err);
    log(b.LOCKGATE_PLUGIN_HOST_LEVEL_INFO, "deployed release {s} to {s}", .{ release.name, path });
    ret.* = fetched(alloc, release, path, data.len);
}

fn requireInput(name: []const u8, err: *PluginError) Failure!void {
    var inputs: b.resource_type_list_string_t = undefined;
    b.lockgate_plugin_host_inputs(&inputs);
    defer b.resource_type_list_string_free(&inputs);
    var names: [512]u8 = undefined;
    var used: usize = 0;
    if (inputs.len > 0) for (inputs.ptr[0..inputs.len], 0..) |s, i| {
        if (std.mem.eql(u8, slice(s), name)) return;
        const piece = std.fmt.bufPrint(names[used..], "{s}{s}", .{ if (i > 0) ", " else "", slice(s) }) catch break;
        used += piece.len;
    };
    return fail(err, invalid_config, "params.from_file: no input named `{s}` (inputs: {s})", .{ name, if (used == 0) "none" else names[0..used] });
}

fn fetched(alloc: std.mem.Allocator, release: Release, path: []const u8, size: usize) Fetched {
    const bytes = std.fmt.allocPrint(alloc, "{d}", .{size}) catch @panic("out of memory");
    return .{
        .version = versionOf(release),
        .metadata = .{ .ptr = pairs(&.{ .{ "path", path }, .{ "bytes", bytes } }), .len = 2 },
    };
}

// The error of the operation being run: filled by `fail`, copied out by `reported`. (One
// operation runs at a time in a component instance.)
var pending: PluginError = undefined;

fn reported(e: anyerror, err: *PluginError) bool {
    if (e == error.Reported) {
        err.* = pending;
    } else {
        err.tag = failed;
        err.val.failed = dupe(@errorName(e));
    }
    return false;
}
