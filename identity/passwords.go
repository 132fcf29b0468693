package identity

import (
	_ "embed"
	"strings"
	"sync"
)

// commonPasswords are the entries of 8 to 64 characters of zxcvbn's list of
// the 47,023 most common leaked passwords (MIT, github.com/trustelem/zxcvbn).
//
//go:embed common-passwords.txt
var commonPasswordsText string

var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 16_000)
	for _, p := range strings.Split(commonPasswordsText, "\n") {
		if p != "" {
			set[p] = struct{}{}
		}
	}
	return set
})

// CommonPassword reports whether password is on the list of leaked
// passwords attackers try first.
func CommonPassword(password string) bool {
	_, common := commonPasswords()[strings.ToLower(password)]
	return common
}

// checkPasswordPolicy refuses passwords that attackers try first.
func checkPasswordPolicy(field, password string) error {
	if !printable(password) {
		return Invalid(field, "密码不能包含控制字符")
	}
	if CommonPassword(password) {
		e := E(CodeWeakPassword)
		e.Field = field
		return e
	}
	return nil
}
