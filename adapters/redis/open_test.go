package redis

import (
	"slices"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		name       string
		url        string
		addrs      []string
		user, pass string
		db         int
		tlsName    string // "" when no TLS
	}{
		{
			name:  "one server with a database",
			url:   "redis://127.0.0.1:6379/2",
			addrs: []string{"127.0.0.1:6379"},
			db:    2,
		},
		{
			name:  "one server with user and password",
			url:   "redis://app:s3cret@cache.internal:6380",
			addrs: []string{"cache.internal:6380"},
			user:  "app",
			pass:  "s3cret",
		},
		{
			name:    "one server over TLS",
			url:     "rediss://:s3cret@cache.example.com:6380/1",
			addrs:   []string{"cache.example.com:6380"},
			pass:    "s3cret",
			db:      1,
			tlsName: "cache.example.com",
		},
		{
			name:  "cluster seed nodes, the default port where none is given",
			url:   "redis://10.0.0.1:7000,10.0.0.2:7001,10.0.0.3",
			addrs: []string{"10.0.0.1:7000", "10.0.0.2:7001", "10.0.0.3:6379"},
		},
		{
			name:    "cluster seed nodes over TLS with a password",
			url:     "rediss://app:s3cret@n1.example.com:7000,n2.example.com:7000?dial_timeout=3s",
			addrs:   []string{"n1.example.com:7000", "n2.example.com:7000"},
			user:    "app",
			pass:    "s3cret",
			tlsName: "n1.example.com",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt, err := parseURL(tt.url)
			if err != nil {
				t.Fatalf("parseURL: %v", err)
			}
			if !slices.Equal(opt.InitAddress, tt.addrs) {
				t.Errorf("addresses %q, want %q", opt.InitAddress, tt.addrs)
			}
			if opt.Username != tt.user || opt.Password != tt.pass {
				t.Errorf("credentials %q:%q, want %q:%q", opt.Username, opt.Password, tt.user, tt.pass)
			}
			if opt.SelectDB != tt.db {
				t.Errorf("database %d, want %d", opt.SelectDB, tt.db)
			}
			switch {
			case tt.tlsName == "" && opt.TLSConfig != nil:
				t.Error("TLS configured for redis://")
			case tt.tlsName != "" && (opt.TLSConfig == nil || opt.TLSConfig.ServerName != tt.tlsName):
				t.Errorf("TLS config %+v, want server name %q", opt.TLSConfig, tt.tlsName)
			}
			if !opt.DisableCache {
				t.Error("client-side cache left on")
			}
		})
	}
}

func TestParseURLRejects(t *testing.T) {
	tests := []struct{ name, url string }{
		{"another scheme", "http://127.0.0.1:6379"},
		{"a database other than 0 on a cluster", "redis://h1:7000,h2:7000/3"},
		{"a bad port", "redis://app:hunter2@cache:port"},
		{"a database that is not a number", "redis://cache:6379/zero"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseURL(tt.url)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}
