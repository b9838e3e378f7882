package main

import (
	"context"
	"fmt"
	"log/slog"

	firebase "firebase.google.com/go/v4"
	"google.golang.org/api/option"

	"github.com/favad/favad/push"
)

// pushSender is the FCM sender when credentials are configured, and the
// log-only sender otherwise, so that the server runs without a Firebase account.
func pushSender(ctx context.Context, credentials string, ttls push.TTLs, logger *slog.Logger) (push.Sender, error) {
	if credentials == "" {
		logger.Info("no Firebase credentials: push messages are logged, not sent")
		return &push.LogSender{Logger: logger}, nil
	}
	app, err := firebase.NewApp(ctx, nil, option.WithCredentialsFile(credentials))
	if err != nil {
		return nil, fmt.Errorf("firebase: %w", err)
	}
	client, err := app.Messaging(ctx)
	if err != nil {
		return nil, fmt.Errorf("firebase messaging: %w", err)
	}
	logger.Info("push messages go through FCM", "credentials", credentials)
	return &push.FCMSender{Client: client, TTLs: ttls}, nil
}
