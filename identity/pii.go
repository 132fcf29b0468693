package identity

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Vault encrypts resident ID numbers (AES-256-GCM) and indexes them with a
// keyed hash, so the database never holds a clear number. Keys carry ids so
// that a new key can be introduced while old rows stay readable.
type Vault struct {
	current string
	keys    map[string]cipher.AEAD
	index   []byte
}

// ParseVaultKeys reads "kid:base64key[,kid:base64key…]" (32-byte keys): the
// first key encrypts, all decrypt. indexKey keys the lookup hash; it must
// outlive key rotations, or equal numbers stop matching.
func ParseVaultKeys(spec string, indexKey []byte) (*Vault, error) {
	if len(indexKey) < 32 {
		return nil, errors.New("PII index key must be at least 32 bytes")
	}
	v := &Vault{keys: map[string]cipher.AEAD{}, index: indexKey}
	for i, part := range strings.Split(spec, ",") {
		kid, b64, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok || kid == "" {
			return nil, errors.New("PII key must look like kid:base64key")
		}
		key, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("PII key %q must be 32 bytes of base64", kid)
		}
		aead, err := newGCM(key)
		if err != nil {
			return nil, err
		}
		v.keys[kid] = aead
		if i == 0 {
			v.current = kid
		}
	}
	return v, nil
}

// NewVault builds a vault from one raw 32-byte key.
func NewVault(kid string, key, indexKey []byte) (*Vault, error) {
	return ParseVaultKeys(kid+":"+base64.StdEncoding.EncodeToString(key), indexKey)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("creating cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

// Seal encrypts plain with the current key; the nonce is prefixed.
func (v *Vault) Seal(plain string) (sealed []byte, kid string) {
	aead := v.keys[v.current]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	return aead.Seal(nonce, nonce, []byte(plain), []byte(v.current)), v.current
}

// Open decrypts what Seal produced under key kid.
func (v *Vault) Open(sealed []byte, kid string) (string, error) {
	aead, ok := v.keys[kid]
	if !ok {
		return "", fmt.Errorf("unknown PII key id %q", kid)
	}
	if len(sealed) < aead.NonceSize() {
		return "", errors.New("sealed value too short")
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(kid))
	if err != nil {
		return "", fmt.Errorf("decrypting: %w", err)
	}
	return string(plain), nil
}

// Index is the keyed hash that finds equal numbers without decrypting.
func (v *Vault) Index(plain string) string {
	m := hmac.New(sha256.New, v.index)
	m.Write([]byte(plain))
	return hex.EncodeToString(m.Sum(nil))
}
