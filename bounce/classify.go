package bounce

import (
	"regexp"
	"strings"
)

// Reasons Classify returns.
const (
	ReasonUserUnknown   = "user_unknown" // the mailbox does not exist
	ReasonHostUnknown   = "host_unknown" // the domain does not exist or has no mail server
	ReasonHasMoved      = "has_moved"    // the address moved (5.1.6)
	ReasonNotAccept     = "not_accept"   // the domain accepts no mail (null MX)
	ReasonMailboxFull   = "mailbox_full" // over quota
	ReasonSuspended     = "suspended"    // the mailbox is disabled or inactive
	ReasonBlocked       = "blocked"      // the sender's host or IP is refused
	ReasonSpam          = "spam"         // the content was taken for spam or a virus
	ReasonPolicy        = "policy"       // refused by a policy (authentication, content)
	ReasonTooBig        = "message_too_big"
	ReasonRateLimited   = "rate_limited"   // too many messages or connections
	ReasonExpired       = "expired"        // the MTA gave up after retrying
	ReasonNetworkError  = "network_error"  // no route, no connection, DNS failure
	ReasonSystemError   = "system_error"   // the remote system failed
	ReasonAutoReply     = "auto_reply"     // an out-of-office reply
	ReasonUndetermined  = "undetermined"   // nothing recognisable
	ReasonDeliveredOK   = "delivered"      // a success report
	reasonMailerError   = "mailer_error"   // a local program failed
	reasonSyntaxError   = "syntax_error"   // the remote server refused a command's syntax
	reasonDelayedNotice = "delayed_notice" // a warning: still trying
)

// hardReasons say the address itself will never take mail.
var hardReasons = map[string]bool{ReasonUserUnknown: true, ReasonHostUnknown: true, ReasonHasMoved: true, ReasonNotAccept: true}

func hardReason(r string) bool { return hardReasons[r] }

// rule maps a phrase (a regular expression on the lower-cased text) to a reason.
type rule struct {
	re     *regexp.Regexp
	reason string
}

func rules(reason string, patterns ...string) []rule {
	out := make([]rule, len(patterns))
	for i, p := range patterns {
		out[i] = rule{regexp.MustCompile(p), reason}
	}
	return out
}

// phraseRules are tried in order; the first that matches names the reason. More specific
// reasons come before the ones whose phrases they contain ("mailbox full" before
// "mailbox unavailable").
var phraseRules = concat(
	rules(reasonDelayedNotice,
		`will (?:continue|keep) (?:to )?(?:try|retry)`, `still (?:be )?(?:trying|retrying)`, `delivery (?:has been |is )?delayed`,
		`not yet been delivered`, `will be retried`, `warning: message .* delayed`, `delivery status notification \(delay\)`),
	rules(ReasonMailboxFull,
		`mailbox (?:is )?full`, `mailbox (?:size )?(?:limit|quota) exceeded`, `over ?quota`, `quota exceeded`,
		`exceed(?:s|ed)? (?:the |their |his |her )?(?:storage |mailbox )?(?:quota|storage)`, `insufficient (?:disk )?(?:space|storage)`,
		`mail ?box (?:is )?(?:over|too) (?:full|large)`, `user has exceeded`, `mailbox has exceeded`, `disk quota`,
		`not enough (?:storage|space)`, `inbox is full`, `storage (?:limit|quota)`, `is over (?:its|the) (?:storage )?(?:limit|quota)`,
		`maildir (?:over ?quota|full)`, `mailfolder is full`, `no space left`, `account is full`),
	rules(ReasonHasMoved, `has moved`, `address (?:has )?changed`, `\b5\.1\.6\b`, `no longer (?:at|with) this`),
	rules(ReasonNotAccept, `does not accept (?:any )?mail`, `null mx`, `accepts no mail`, `\b5\.1\.10\b`, `not accepting (?:any )?mail`),
	rules(ReasonSuspended,
		`(?:account|mailbox|user)(?: has been| is)? (?:disabled|suspended|inactive|deactivated|locked|frozen|blocked)`,
		`(?:disabled|suspended|inactive|deactivated) (?:account|mailbox|user)`, `account (?:has )?expired`,
		`mailbox (?:is )?(?:currently )?(?:unavailable|inactive) due to`, `temporarily (?:disabled|deactivated)`),
	rules(ReasonHostUnknown,
		`host (?:or domain name )?not found`, `host unknown`, `unknown host`, `domain (?:name )?(?:not found|unknown|does not exist)`,
		`(?:unknown|invalid|nonexistent|non-existent) (?:domain|host)`, `no (?:such|valid) (?:domain|host)`, `unrouteable (?:mail )?domain`,
		`name or service not known`, `nxdomain`, `no mx (?:record|host)`, `mx (?:record )?(?:lookup )?(?:failed|not found)`,
		`unable to (?:route|resolve)`, `couldn't find any host named`, `domain (?:name )?(?:lookup|resolution) failed`,
		`host lookup failed`, `dns lookup failure`, `cannot resolve`, `dns (?:error|failure).*(?:domain|host)`, `no route to host found`,
		`illegal host/domain`, `unknown mail (?:domain|host)`, `mail for .* loops back`, `address .* is not a valid domain`,
		`domain .* is not (?:a )?(?:valid|local)`, `recipient domain .* (?:not found|unknown|does not exist)`,
		`\b5\.1\.2\b`, `\b5\.4\.4\b`),
	rules(ReasonUserUnknown,
		`user(?:name)? (?:is )?unknown`, `unknown (?:user|recipient|local[- ]part|address|mailbox|account|alias|e-?mail)`,
		`no such (?:user|recipient|mailbox|account|address|person|local user|alias)`,
		`(?:user|recipient|mailbox|account|address|e-?mail address|local part|addressee)(?: [^ ]+)?(?: does not| doesn't| did not| not) exists?`,
		`does(?: not|n't) (?:have an? (?:[a-z]+ )?account|exist)`, `not (?:a )?(?:valid|known) (?:user|recipient|mailbox|address)`,
		`(?:invalid|unknown|bad|illegal|nonexistent|non-existent|unverified) (?:recipient|user|mailbox|address|account|destination)`,
		`(?:recipient|user|mailbox|address)(?: address)? (?:is )?(?:invalid|unknown|not found|unavailable|not listed|rejected)`,
		`(?:mailbox|user|recipient|address|account) not (?:found|available|valid|recognized|listed|local)`,
		`no (?:mailbox|account|user) (?:here|by that name|for)`, `no mailbox\b`, `user not local`, `not our customer`,
		`unrouteable address`, `undeliverable address`, `address (?:is )?rejected`, `addressee unknown`,
		`email account that you tried to reach does not exist`, `address couldn't be found`, `is not a valid mailbox`,
		`recipient (?:not|no longer) (?:on|in|at)`, `no longer (?:valid|available|active|in use)`, `no valid recipients`,
		`bad destination mailbox`, `mailbox (?:unavailable|not found|does not exist)`, `doesn't have a .* account`,
		`rcpt to.* (?:rejected|refused|invalid)`, `relay(?:ing)? (?:access )?denied.*(?:recipient|user)`,
		`sorry, no mailbox`, `(?:recipient )?name is not recognized`, `invalid final delivery userid`, `recipient address rejected`, `no such address`, `invalid address`, `address not present`, `delivery to the following recipient failed permanently`,
		`not listed in`, `unknown or illegal alias`, `user doesn't exist`, `unknown account`, `address lookup failed`,
		`could not be delivered because the email address was not found`, `the email address you entered couldn't be found`,
		`recipient rejected`, `we do not relay`, `no such local user`, `mailbox name not allowed`, `invalid mailbox`,
		`\b5\.1\.1\b`, `\b5\.1\.3\b`),
	rules(ReasonTooBig, `message (?:size |length )?(?:exceeds|too (?:big|large))`, `size limit`, `message is too (?:big|large)`, `\b5\.3\.4\b`, `\b5\.2\.3\b`),
	rules(ReasonSpam, `spam`, `junk mail`, `virus`, `malware`, `content (?:rejected|filter)`, `blacklisted content`, `message (?:content )?rejected`),
	rules(ReasonBlocked,
		`blacklist`, `blocklist`, `block ?list`, `blocked`, `\brbl\b`, `dnsbl`, `spamhaus`, `reputation`, `not allowed to send`,
		`access denied`, `denied`, `refused`, `client host .* rejected`, `reverse dns`, `ptr record`, `not permitted`, `poor reputation`),
	rules(ReasonPolicy, `policy`, `spf`, `dkim`, `dmarc`, `authentication`, `not authorized`, `5\.7\.\d+`),
	rules(ReasonRateLimited, `too many (?:messages|connections|recipients)`, `rate limit`, `try again later`, `temporarily deferred`, `throttl`, `exceeded .* rate`),
	rules(ReasonNetworkError, `connection (?:refused|timed out|reset)`, `network (?:is )?unreachable`, `no route to host`, `could not connect`, `unable to connect`, `loop(?:s)? (?:back|detected)`, `too many hops`),
	rules(ReasonExpired, `retry time(?:out)? (?:not reached|exceeded)`, `(?:message|delivery) (?:has )?expired`, `giving up`, `gave up`, `could not be delivered for \d+ (?:hours|days)`, `time(?:d)? ?out`, `queue too long`),
	rules(reasonSyntaxError, `syntax error`, `command unrecognized`, `bad sequence`),
	rules(reasonMailerError, `mailer error`, `command died`, `program exited`, `exit code`),
	rules(ReasonSystemError, `system error`, `internal error`, `local error`, `temporary failure`, `service unavailable`, `server error`, `system (?:is )?(?:busy|full)`),
)

// statusRules name a reason from an RFC 3463 status when the text says nothing recognisable.
var statusReasons = map[string]string{
	"5.1.1": ReasonUserUnknown, "5.1.0": ReasonUserUnknown, "5.1.3": ReasonUserUnknown, "5.1.2": ReasonHostUnknown,
	"5.1.6": ReasonHasMoved, "5.1.10": ReasonNotAccept, "5.4.4": ReasonHostUnknown, "5.2.1": ReasonSuspended,
	"4.2.1": ReasonSuspended, "5.2.2": ReasonMailboxFull, "4.2.2": ReasonMailboxFull, "5.2.3": ReasonTooBig,
	"5.3.4": ReasonTooBig, "4.4.7": ReasonExpired, "5.4.7": ReasonExpired, "4.4.1": ReasonNetworkError,
	"4.4.2": ReasonNetworkError, "5.4.6": ReasonNetworkError, "5.7.1": ReasonBlocked, "5.7.0": ReasonPolicy,
}

func concat(lists ...[]rule) []rule {
	var out []rule
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// Classify names the reason a delivery failed from its RFC 3463 status ("5.1.1"), its SMTP
// reply code ("550") and the diagnostic text, any of which may be empty: the text's phrases
// first, then the status, then ReasonUndetermined.
func Classify(status, smtpCode, text string) string {
	lower := strings.ToLower(strings.Join(strings.Fields(text), " "))
	if len(lower) > 64<<10 {
		lower = lower[:64<<10]
	}
	for _, r := range phraseRules {
		if r.re.MatchString(lower) {
			if r.reason == reasonDelayedNotice && strings.HasPrefix(status, "5.") {
				continue
			}
			return r.reason
		}
	}
	if r, ok := statusReasons[status]; ok {
		return r
	}
	if strings.HasPrefix(status, "2.") {
		return ReasonDeliveredOK
	}
	return ReasonUndetermined
}

// kindOfReason is the Kind of a recipient that only a classified text describes: a hard
// reason is Hard; a permanent status or reply is Hard; a delay notice is Delayed; the rest
// Soft.
func kindOfReason(reason, status, smtpCode string) Kind {
	switch {
	case hardReason(reason):
		return Hard
	case reason == reasonDelayedNotice:
		return Delayed
	case reason == ReasonDeliveredOK:
		return Delivered
	case strings.HasPrefix(status, "5.") || (status == "" && strings.HasPrefix(smtpCode, "5")):
		return Hard
	}
	return Soft
}

// IsHard reports whether a reason says the address itself is bad.
func IsHard(reason string) bool { return hardReason(reason) }
