package sms

import (
	"context"
	"crypto/rand"
	"log/slog"

	"github.com/carcity/identity/identity"
)

// Log is the development driver: it sends nothing and logs the message,
// code included, so a developer can read the code from the server output.
// Never wire it in production.
type Log struct {
	Logger *slog.Logger // nil means slog.Default()
}

var _ identity.SMSSender = Log{}

// Send logs msg and returns a random message id. It never fails.
func (l Log) Send(ctx context.Context, msg identity.SMS) (string, error) {
	logger := l.Logger
	if logger == nil {
		logger = slog.Default()
	}
	id := "log-" + rand.Text()
	logger.InfoContext(ctx, "sms (log driver, development only)",
		"telephone", msg.Telephone,
		"purpose", msg.Purpose,
		"code", msg.Code,
		"messageId", id,
	)
	return id, nil
}
