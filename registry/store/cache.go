package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// maxCacheValue bounds one cached value: what discover found, not data.
const maxCacheValue = 4 << 20

// GetCache returns the value cached under name, if there is one that has
// not expired.
func (s *DB) GetCache(name string) ([]byte, bool, error) {
	var out []byte
	err := s.view(func(txn *badger.Txn) error {
		item, err := txn.Get(makeKey("cache", name))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		out, err = item.ValueCopy(nil)
		return err
	})
	return out, out != nil, err
}

// PutCache caches value under name for ttl.
func (s *DB) PutCache(name string, value []byte, ttl time.Duration) error {
	if len(value) > maxCacheValue {
		return fmt.Errorf("caching %s: %d bytes is more than %d", name, len(value), maxCacheValue)
	}
	return s.update(func(txn *badger.Txn) error {
		return txn.SetEntry(badger.NewEntry(makeKey("cache", name), value).WithTTL(ttl))
	})
}

// GetCache returns the value cached under name in the store, if there is
// one that has not expired (see [DB.GetCache]). A missing store has none.
func (h *Handle) GetCache(ctx context.Context, name string) ([]byte, bool, error) {
	res, err := h.do(ctx, &job{Op: opGetCache, Key: name}, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading the cache: %w", err)
	}
	return res.Value, res.Value != nil, nil
}

// PutCache caches value under name for ttl (see [DB.PutCache]).
func (h *Handle) PutCache(ctx context.Context, name string, value []byte, ttl time.Duration) error {
	_, err := h.do(ctx, &job{Op: opPutCache, Key: name, Value: value, TTL: ttl}, true)
	return err
}
