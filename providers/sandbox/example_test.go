package sandbox_test

import (
	"context"
	"fmt"

	"github.com/sendoka/sendoka/providers/sandbox"
	"github.com/sendoka/sendoka/sendoka"
)

// The core hands the sandbox a test-key message; the sandbox reports what a real provider
// would have, per recipient.
func Example() {
	sbx := sandbox.New(sandbox.Options{})
	res, err := sbx.SendEmail(context.Background(), &sendoka.OutboundEmail{
		MessageID: "msg_01JPB3C0000000000000000000",
		From:      "App <app@sandbox.sendoka.com>",
		To:        []string{"delivered@sandbox.sendoka.com", "bounced+signup@sandbox.sendoka.com"},
		Subject:   "Welcome",
		Text:      "Hello!",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.ProviderMessageID)
	for _, ev := range res.Events {
		fmt.Print(ev.Recipient, ": ", ev.Type)
		if ev.Diagnostic != nil {
			fmt.Print(" (", ev.Diagnostic.Code, " ", ev.Diagnostic.Message, ")")
		}
		fmt.Println()
	}
	// Output:
	// sbx_01JPB3C0000000000000000000
	// delivered@sandbox.sendoka.com: delivered
	// bounced+signup@sandbox.sendoka.com: bounced (550 5.1.1 mailbox does not exist)
}
