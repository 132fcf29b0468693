package redis

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/redis/rueidis"
)

// Open connects to the Redis at rawURL:
//
//	redis://[user:pass@]host:port[/db]     one server
//	rediss://[user:pass@]host:port[/db]    one server over TLS
//	redis://h1:p1,h2:p2                    seed nodes of a Redis Cluster
//
// plus the query parameters of rueidis.ParseURL. rueidis finds out by itself
// whether the server is a cluster node.
func Open(rawURL string) (rueidis.Client, error) {
	opt, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	c, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("connecting to redis: %w", err)
	}
	return c, nil
}

func parseURL(rawURL string) (rueidis.ClientOption, error) {
	single, seeds := splitSeeds(strings.TrimSpace(rawURL))
	opt, err := rueidis.ParseURL(single)
	if err != nil {
		// url.Error quotes the whole URL, password included.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return opt, fmt.Errorf("parsing redis url: %w", err)
	}
	for _, a := range seeds {
		if _, _, err := net.SplitHostPort(a); err != nil {
			a = net.JoinHostPort(a, "6379")
		}
		opt.InitAddress = append(opt.InitAddress, a)
	}
	if len(opt.InitAddress) > 1 && opt.SelectDB != 0 {
		return opt, errors.New("parsing redis url: a cluster has only database 0")
	}
	// The adapter never reads through the client-side cache; without it,
	// servers lacking CLIENT TRACKING work too.
	opt.DisableCache = true
	return opt, nil
}

// splitSeeds turns "redis://u:p@h1:p1,h2:p2/0" into "redis://u:p@h1:p1/0",
// which rueidis.ParseURL understands, and the other addresses ["h2:p2"].
func splitSeeds(rawURL string) (string, []string) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return rawURL, nil
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	userinfo, hosts := "", authority
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userinfo, hosts = authority[:i+1], authority[i+1:]
	}
	first, others, ok := strings.Cut(hosts, ",")
	if !ok {
		return rawURL, nil
	}
	var seeds []string
	for a := range strings.SplitSeq(others, ",") {
		if a = strings.TrimSpace(a); a != "" {
			seeds = append(seeds, a)
		}
	}
	return scheme + "://" + userinfo + first + tail, seeds
}
