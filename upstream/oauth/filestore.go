package oauth

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/mcpmux/mcpmux/internal/atomicfile"
)

// FileStore keeps each record in a file of its own under Dir, encrypted
// with AES-256-GCM: nothing of a token is on disk in the clear. A file's
// name is made of hashes of the record's key; the key itself is the
// AEAD's additional data, so that a file renamed to another key does not
// open. Files are written to a temporary name and renamed, 0600, in a 0700
// directory.
type FileStore struct {
	Dir string
	Key *StoreKey
}

var _ Store = (*FileStore)(nil)

// fileMagic starts every record file.
var fileMagic = []byte("mcpmux-oauth-1\n")

// prefix names the files of resource and account.
func prefix(resource, account string) string {
	h := sha256.Sum256([]byte(resource + "\x00" + account))
	return hex.EncodeToString(h[:10])
}

func (s *FileStore) path(k Key) string {
	h := sha256.Sum256([]byte(k.Issuer))
	return filepath.Join(s.Dir, prefix(k.Resource, k.Account)+"-"+hex.EncodeToString(h[:6])+".tok")
}

func aad(k Key) []byte { return []byte(k.Resource + "\x00" + k.Issuer + "\x00" + k.Account) }

func (s *FileStore) aead() cipher.AEAD {
	b, _ := aes.NewCipher(s.Key.Bytes[:])
	g, _ := cipher.NewGCM(b)
	return g
}

// Load returns the newest readable record of resource and account.
func (s *FileStore) Load(resource, account string) (*Record, error) {
	paths, _ := filepath.Glob(filepath.Join(s.Dir, prefix(resource, account)+"-*.tok"))
	var newest *Record
	var firstErr error
	for _, p := range paths {
		r, err := s.read(p)
		if err != nil {
			firstErr = cmpErr(firstErr, err)
			continue
		}
		if r.Resource != resource || r.Account != account {
			continue
		}
		if newest == nil || r.Saved.After(newest.Saved) {
			newest = r
		}
	}
	if newest == nil && firstErr != nil {
		return nil, firstErr
	}
	return newest, nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func (s *FileStore) read(path string) (*Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading a token record: %w", err)
	}
	g := s.aead()
	if !bytes.HasPrefix(data, fileMagic) || len(data) < len(fileMagic)+g.NonceSize() {
		return nil, fmt.Errorf("reading token record %s: not a record of mcpmux", filepath.Base(path))
	}
	data = data[len(fileMagic):]
	nonce, sealed := data[:g.NonceSize()], data[g.NonceSize():]
	// The AAD is the key, which the name only hashes: keep it beside the
	// ciphertext (it names a URL, an issuer and a server, no secret).
	i := bytes.IndexByte(sealed, '\n')
	if i < 0 {
		return nil, fmt.Errorf("reading token record %s: truncated", filepath.Base(path))
	}
	var k Key
	if err := json.Unmarshal(sealed[:i], &k); err != nil {
		return nil, fmt.Errorf("reading token record %s: %w", filepath.Base(path), err)
	}
	plain, err := g.Open(nil, nonce, sealed[i+1:], aad(k))
	if err != nil {
		return nil, fmt.Errorf("reading token record %s: it does not open with this key (was %s changed?)", filepath.Base(path), KeyEnv)
	}
	var r Record
	if err := json.Unmarshal(plain, &r); err != nil {
		return nil, fmt.Errorf("reading token record %s: %w", filepath.Base(path), err)
	}
	if r.Key() != k {
		return nil, fmt.Errorf("reading token record %s: its key does not match", filepath.Base(path))
	}
	return &r, nil
}

// Save writes r, encrypted.
func (s *FileStore) Save(r *Record) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("saving tokens: %w", err)
	}
	r.Saved = time.Now().UTC()
	plain, err := json.Marshal(r)
	if err != nil {
		return err
	}
	k := r.Key()
	head, _ := json.Marshal(k)
	g := s.aead()
	nonce := make([]byte, g.NonceSize())
	_, _ = rand.Read(nonce)
	out := append(append([]byte{}, fileMagic...), nonce...)
	out = append(append(out, head...), '\n')
	out = g.Seal(out, nonce, plain, aad(k))
	final := s.path(k)
	// Synced: a rotated refresh token lost to a crash means a new login.
	if err := atomicfile.WriteSync(final, out, 0o600); err != nil {
		return fmt.Errorf("saving tokens: %w", err)
	}
	return nil
}

// Delete removes the records of resource and account.
func (s *FileStore) Delete(resource, account string) error {
	paths, _ := filepath.Glob(filepath.Join(s.Dir, prefix(resource, account)+"-*.tok"))
	var errs []error
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Lock takes the lock file of resource and account, waiting for another
// process that holds it, within ctx.
func (s *FileStore) Lock(ctx context.Context, resource, account string) (func(), error) {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("locking tokens: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(s.Dir, prefix(resource, account)+".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking tokens: %w", err)
	}
	wait := 2 * time.Millisecond
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("locking tokens: %w", err)
		}
		if ok {
			return func() { unlock(f); f.Close() }, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// Describe says where the records are and where their key is.
func (s *FileStore) Describe() string {
	return fmt.Sprintf("encrypted (AES-256-GCM) in %s, key from %s", s.Dir, s.Key.Source)
}
