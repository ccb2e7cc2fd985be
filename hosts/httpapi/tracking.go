package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sendoka/sendoka/sendoka"
)

// registerTracking adds the open pixel (GET /t/o/{token}) and the click redirect
// (GET /t/c/{token}) that tracked emails point to. They take no API key: the token, signed
// when the message was sent, is the authorization, and a malformed or tampered one is 404
// NOT_FOUND. The redirect goes to the URL stored at send time, never to one read from the
// request, so the endpoint cannot serve as an open redirect. Both are left out of the
// OpenAPI document: they are for mail clients, not API callers.
func registerTracking(r *registrar, c *sendoka.Client) {
	op := func(path, id, summary string) huma.Operation {
		return huma.Operation{
			OperationID: id, Method: http.MethodGet, Path: path, Summary: summary, Hidden: true,
			// The envelope for a bad token, but no authentication.
			Middlewares: huma.Middlewares{envelopeMiddleware(r.opts.Logger), deadlineMiddleware(r.opts)},
		}
	}
	huma.Register(r.api, op("/t/o/{token}", "track-open", "Open-tracking pixel"),
		func(ctx context.Context, in *trackingInput) (*pixelOutput, error) {
			if err := c.TrackOpen(ctx, in.Token, sendoka.TrackingRequest{UserAgent: in.UserAgent}); err != nil {
				if sendoka.ErrorCode(err) != sendoka.CodeNotFound {
					// The pixel still shows: a reader's mail client is no place for our error.
					r.opts.Logger.ErrorContext(ctx, "recording an open failed", "error", err)
				} else {
					return nil, fail(ctx, err)
				}
			}
			return &pixelOutput{ContentType: "image/gif", CacheControl: noStore, Body: pixelGIF}, nil
		})
	huma.Register(r.api, op("/t/c/{token}", "track-click", "Click-tracking redirect"),
		func(ctx context.Context, in *trackingInput) (*redirectOutput, error) {
			target, err := c.TrackClick(ctx, in.Token, sendoka.TrackingRequest{UserAgent: in.UserAgent})
			if target == "" {
				return nil, fail(ctx, err)
			}
			if err != nil {
				r.opts.Logger.ErrorContext(ctx, "recording a click failed", "error", err)
			}
			return &redirectOutput{Status: http.StatusFound, Location: target, CacheControl: noStore, ReferrerPolicy: "no-referrer"}, nil
		})
}

// noStore keeps caches and proxies from answering a later open or click themselves.
const noStore = "no-store, no-cache, must-revalidate, private"

type trackingInput struct {
	Token     string `path:"token" doc:"Signed tracking token"`
	UserAgent string `header:"User-Agent"`
}

type pixelOutput struct {
	ContentType  string `header:"Content-Type"`
	CacheControl string `header:"Cache-Control"`
	Body         []byte
}

type redirectOutput struct {
	Status         int
	Location       string `header:"Location"`
	CacheControl   string `header:"Cache-Control"`
	ReferrerPolicy string `header:"Referrer-Policy"`
}

// pixelGIF is a transparent 1x1 GIF.
var pixelGIF = []byte{
	0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
}
