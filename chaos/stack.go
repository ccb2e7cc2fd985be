package main

import "time"

// relayStack is the setup most scenarios share: a throw-away Postgres cluster, a recording
// relay, and one serve process sending to it on that cluster, started, with a connection to
// its database for the tally.
type relayStack struct {
	pg  *cluster
	rec *smtpRecorder
	srv *server
	db  *database
}

// startRelayStack starts a relayStack; replyDelay is the relay's (nil: none).
func startRelayStack(e *env, replyDelay func(id string) time.Duration) (*relayStack, error) {
	pg, err := startCluster(e.ctx, e.dir, e.cl)
	if err != nil {
		return nil, err
	}
	rec, err := startSMTPRecorder(e, replyDelay)
	if err != nil {
		return nil, err
	}
	srv, err := newServer(e, "serve", append(rec.env(), "SENDOKA_DATABASE_URL="+pg.url(), "SENDOKA_SMTP_MAX_CONNS="+itoa(relayConns))...)
	if err != nil {
		return nil, err
	}
	if err := srv.start(e.ctx); err != nil {
		return nil, err
	}
	db, err := openPostgres(e, pg.url())
	if err != nil {
		return nil, err
	}
	return &relayStack{pg: pg, rec: rec, srv: srv, db: db}, nil
}
