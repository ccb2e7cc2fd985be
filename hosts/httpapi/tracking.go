package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sendoka/sendoka/sendoka"
)

// registerTracking adds the open pixel (GET /t/o/{token}) and the click redirect
// (GET /t/c/{token}) that tracked emails point to. They take no API key: the token, signed
// when the message was sent, is the authorization, and a malformed or tampered one is 404
// NOT_FOUND. The redirect goes to the URL stored at send time, never to one read from the
// request, so the endpoint cannot serve as an open redirect. They are documented (tag
// Tracking) for those who proxy or inspect them; mail clients, not API callers, call them.
func registerTracking(r *registrar, c *sendoka.Client) {
	op := func(path, id, summary, description string, ok int, okResponse *huma.Response) huma.Operation {
		responses := errorResponses(r.api, http.StatusNotFound, http.StatusInternalServerError, http.StatusServiceUnavailable)
		delete(responses, "200")
		okResponse.Headers[headerRequestID] = responses["404"].Headers[headerRequestID]
		okResponse.Headers["Cache-Control"] = &huma.Param{Description: "Never cached: " + noStore, Schema: &huma.Schema{Type: huma.TypeString}}
		responses[strconv.Itoa(ok)] = okResponse
		return huma.Operation{
			OperationID: id, Method: http.MethodGet, Path: path, Summary: summary, Description: description,
			Tags: []string{tagTracking}, Security: []map[string][]string{}, DefaultStatus: ok, Responses: responses,
			// The envelope for a bad token, but no authentication.
			Middlewares: huma.Middlewares{envelopeMiddleware(r.opts.Logger), deadlineMiddleware(r.opts)},
		}
	}
	tokenDoc := "A tracked email's links carry it; a malformed, tampered or unknown token is 404 NOT_FOUND."
	pixel := &huma.Response{Description: "A transparent 1x1 GIF; the open is recorded (message.opened)",
		Headers: map[string]*huma.Param{},
		Content: map[string]*huma.MediaType{"image/gif": {Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}}}}
	redirect := &huma.Response{Description: "Redirect to the link's URL as sent; the click is recorded (message.clicked)",
		Headers: map[string]*huma.Param{"Location": {Description: "The link's URL, as stored at send time", Schema: &huma.Schema{Type: huma.TypeString, Format: "uri"}}}}
	huma.Register(r.api, op("/t/o/{token}", "track-open", "Open-tracking pixel",
		"The 1x1 image a tracked email embeds (track_opens). No API key: the token is the authorization. "+tokenDoc, http.StatusOK, pixel),
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
	huma.Register(r.api, op("/t/c/{token}", "track-click", "Click-tracking redirect",
		"Where a tracked email's links point (track_clicks): records the click and redirects to the original URL, "+
			"never to one read from the request. No API key: the token is the authorization. "+tokenDoc, http.StatusFound, redirect),
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

const tagTracking = "Tracking"

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
