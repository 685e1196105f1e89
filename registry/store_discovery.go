package registry

import (
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// PutDiscovery caches value under key for ttl, or forever if ttl is zero
// or less. Expiry is to the second.
func (s *Store) PutDiscovery(key string, value []byte, ttl time.Duration) error {
	e := badger.NewEntry([]byte("disc/"+key), value)
	if ttl > 0 {
		e = e.WithTTL(ttl)
	}
	err := s.update(func(txn *badger.Txn) error { return txn.SetEntry(e) })
	if err != nil {
		return fmt.Errorf("caching discovery %q: %w", key, err)
	}
	return nil
}

// GetDiscovery returns the value cached under key, and false if there is
// none or it has expired.
func (s *Store) GetDiscovery(key string) ([]byte, bool, error) {
	var value []byte
	err := s.view(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte("disc/" + key))
		if err != nil {
			return err
		}
		// Badger checks expiry against the wall clock; this check lets
		// tests move s.now instead of waiting.
		if exp := item.ExpiresAt(); exp != 0 && uint64(s.now().Unix()) >= exp {
			return badger.ErrKeyNotFound
		}
		value, err = item.ValueCopy(nil)
		return err
	})
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("reading discovery %q: %w", key, err)
	}
	return value, true, nil
}
