package main

import (
	"encoding/base64"
	"strconv"
	"strings"
)

const cursorPrefix = "offset:"

type listParams struct {
	Cursor string `json:"cursor"`
}

// paginate returns the page of items starting at cursor, at most size long
// (all of them when size <= 0), and the cursor of the next page, if any.
func paginate[T any](items []T, cursor string, size int) ([]T, string, *rpcError) {
	start, ok := decodeCursor(cursor)
	if !ok || start > len(items) {
		return nil, "", invalidParams("invalid cursor %q", cursor)
	}
	end := len(items)
	if size > 0 {
		end = min(start+size, len(items))
	}
	next := ""
	if end < len(items) {
		next = encodeCursor(end)
	}
	return append([]T{}, items[start:end]...), next, nil
}

func encodeCursor(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.Itoa(offset)))
}

func decodeCursor(cursor string) (int, bool) {
	if cursor == "" {
		return 0, true
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || !strings.HasPrefix(string(b), cursorPrefix) {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(b), cursorPrefix))
	return n, err == nil && n >= 0
}

// listPage paginates items per the request's cursor and -page-size and
// builds the list result {key: page, nextCursor}.
func listPage[T any](s *server, r *request, key string, items []T) (any, *rpcError) {
	var p listParams
	if err := decodeParams(r.msg.Params, &p); err != nil {
		return nil, err
	}
	page, next, err := paginate(items, p.Cursor, s.cfg.pageSize)
	if err != nil {
		return nil, err
	}
	result := map[string]any{key: page}
	if next != "" {
		result["nextCursor"] = next
	}
	return result, nil
}
