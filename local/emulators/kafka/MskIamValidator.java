/*
 * The local broker's stand-in for Amazon MSK's IAM authentication: a server-side SASL/OAUTHBEARER
 * callback handler that accepts the tokens aws-msk-iam-sasl-signer-js makes, and nothing else.
 *
 * Such a token is a base64url-encoded SigV4 presigned URL
 *   https://kafka.<region>.amazonaws.com/?Action=kafka-cluster%3AConnect&X-Amz-Algorithm=...
 * for GET /, signed with the "host" header only and the hash of an empty payload, with a
 * User-Agent parameter appended after signing (so it is not part of the signature). See the
 * signer's getMSKAuthToken.ts and the SigV4 presigned URL guide
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html).
 *
 * The handler is configured by the listener's JAAS options, written by
 * local/emulators/kafka/msk-iam-listener.ts:
 *   listener.name.sasl_ssl.oauthbearer.sasl.jaas.config=
 *     org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required
 *     accessKeyId="..." secretAccessKey="..." region="...";
 *   listener.name.sasl_ssl.oauthbearer.sasl.server.callback.handler.class=seqguard.local.MskIamValidator
 * (Kafka security docs, "SASL/OAUTHBEARER": https://kafka.apache.org/41/security/authentication-using-sasl/).
 *
 * A refused token throws SaslAuthenticationException, whose message Kafka sends to the client
 * in the SaslAuthenticate response, as MSK does; it names the failed check, never a secret.
 */

package seqguard.local;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.security.auth.login.AppConfigurationEntry;

import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.security.auth.AuthenticateCallbackHandler;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerExtensionsValidatorCallback;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerToken;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallback;

public class MskIamValidator implements AuthenticateCallbackHandler {
    static final String SERVICE = "kafka-cluster";
    static final String ACTION = "kafka-cluster:Connect";
    static final String ALGORITHM = "AWS4-HMAC-SHA256";
    /** The signer's tokens last 15 minutes (its EXPIRY_IN_SECONDS); longer ones are refused. */
    static final long MAX_EXPIRES_SECONDS = 900;
    /** How far ahead of the broker's clock a token may be dated, as AWS allows for clock skew. */
    static final long MAX_CLOCK_SKEW_SECONDS = 300;
    /** SHA-256 of the empty body: the payload hash the signer's presign uses for GET /. */
    static final String EMPTY_PAYLOAD_SHA256 =
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    static final DateTimeFormatter AMZ_DATE =
            DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);

    private String accessKeyId;
    /** "AWS4" + the secret access key: the first HMAC key of the SigV4 signing key chain. */
    private byte[] signingSecret;
    private String region;

    @Override
    public void configure(Map<String, ?> configs, String saslMechanism,
            List<AppConfigurationEntry> jaasConfigEntries) {
        if (!"OAUTHBEARER".equals(saslMechanism)) {
            throw new IllegalArgumentException("MskIamValidator serves OAUTHBEARER, not " + saslMechanism);
        }
        if (jaasConfigEntries.size() != 1) {
            throw new IllegalArgumentException("MskIamValidator needs exactly one JAAS entry");
        }
        Map<String, ?> options = jaasConfigEntries.get(0).getOptions();
        accessKeyId = required(options, "accessKeyId");
        signingSecret = ("AWS4" + required(options, "secretAccessKey")).getBytes(StandardCharsets.UTF_8);
        region = required(options, "region");
    }

    @Override
    public void handle(Callback[] callbacks) throws UnsupportedCallbackException {
        for (Callback callback : callbacks) {
            if (callback instanceof OAuthBearerValidatorCallback) {
                OAuthBearerValidatorCallback validation = (OAuthBearerValidatorCallback) callback;
                validation.token(validate(validation.tokenValue()));
            } else if (callback instanceof OAuthBearerExtensionsValidatorCallback) {
                // MSK IAM clients send no SASL extensions; any sent are left unvalidated, which
                // Kafka reports as ignored rather than accepting them.
                continue;
            } else {
                throw new UnsupportedCallbackException(callback);
            }
        }
    }

    @Override
    public void close() {
    }

    /** Checks one token; returns it as the session's token, or throws with the failed check. */
    OAuthBearerToken validate(String tokenValue) {
        URI url = decode(tokenValue);
        String expectedHost = "kafka." + region + ".amazonaws.com";
        if (!"https".equals(url.getScheme()) || !expectedHost.equals(url.getHost())
                || url.getPort() != -1 || !"/".equals(url.getRawPath())) {
            throw refused("the token is not for " + expectedHost);
        }
        Map<String, String> query = parseQuery(url.getRawQuery());
        if (!ACTION.equals(query.get("Action"))) {
            throw refused("the token's Action is not " + ACTION);
        }
        if (!ALGORITHM.equals(query.get("X-Amz-Algorithm"))) {
            throw refused("the token is not signed with " + ALGORITHM);
        }
        if (!"host".equals(query.get("X-Amz-SignedHeaders"))) {
            throw refused("the token must sign the host header only");
        }
        String amzDate = requiredParam(query, "X-Amz-Date");
        Instant signedAt;
        try {
            signedAt = Instant.from(AMZ_DATE.parse(amzDate));
        } catch (DateTimeParseException e) {
            throw refused("the token's X-Amz-Date is malformed");
        }
        long expiresSeconds;
        try {
            expiresSeconds = Long.parseLong(requiredParam(query, "X-Amz-Expires"));
        } catch (NumberFormatException e) {
            throw refused("the token's X-Amz-Expires is malformed");
        }
        if (expiresSeconds < 1 || expiresSeconds > MAX_EXPIRES_SECONDS) {
            throw refused("the token's X-Amz-Expires is outside 1.." + MAX_EXPIRES_SECONDS);
        }
        String shortDate = amzDate.substring(0, 8);
        String scope = shortDate + "/" + region + "/" + SERVICE + "/aws4_request";
        String credential = requiredParam(query, "X-Amz-Credential");
        int slash = credential.indexOf('/');
        if (slash < 0 || !credential.substring(slash + 1).equals(scope)) {
            throw refused("the token's credential scope is not <date>/" + region + "/" + SERVICE + "/aws4_request");
        }
        if (!credential.substring(0, slash).equals(accessKeyId)) {
            throw refused("the token is signed by an unknown access key");
        }
        long nowMs = System.currentTimeMillis();
        long startMs = signedAt.toEpochMilli();
        long expiryMs = startMs + expiresSeconds * 1000;
        if (startMs > nowMs + MAX_CLOCK_SKEW_SECONDS * 1000) {
            throw refused("the token is dated in the future (" + amzDate + ")");
        }
        if (nowMs >= expiryMs) {
            throw refused("the token expired at " + Instant.ofEpochMilli(expiryMs));
        }
        String signature = requiredParam(query, "X-Amz-Signature");
        String expected = signatureOf(url.getHost(), query, amzDate, shortDate, scope);
        if (!MessageDigest.isEqual(expected.getBytes(StandardCharsets.US_ASCII),
                signature.getBytes(StandardCharsets.US_ASCII))) {
            throw refused("the token's signature does not match");
        }
        return new SessionToken(tokenValue, accessKeyId, startMs, expiryMs);
    }

    private static URI decode(String tokenValue) {
        try {
            String text = new String(Base64.getUrlDecoder().decode(tokenValue), StandardCharsets.UTF_8);
            return new URI(text);
        } catch (IllegalArgumentException | URISyntaxException e) {
            throw refused("the token is not a base64url-encoded URL");
        }
    }

    /** Percent-decoded parameters; a repeated one is refused, as the signer never repeats any. */
    private static Map<String, String> parseQuery(String rawQuery) {
        if (rawQuery == null || rawQuery.isEmpty()) {
            throw refused("the token has no query parameters");
        }
        Map<String, String> query = new TreeMap<>();
        for (String pair : rawQuery.split("&", -1)) {
            int eq = pair.indexOf('=');
            String key = percentDecode(eq < 0 ? pair : pair.substring(0, eq));
            String value = eq < 0 ? "" : percentDecode(pair.substring(eq + 1));
            if (query.put(key, value) != null) {
                throw refused("the token repeats the parameter " + key);
            }
        }
        return query;
    }

    /**
     * SigV4 for a presigned GET /: the canonical request holds every query parameter except the
     * signature and the User-Agent the signer appends after signing, sorted by name and
     * RFC 3986-encoded, then the host header, then the empty payload's hash.
     */
    private String signatureOf(String host, Map<String, String> query, String amzDate,
            String shortDate, String scope) {
        StringBuilder canonicalQuery = new StringBuilder();
        for (Map.Entry<String, String> entry : query.entrySet()) {
            String name = entry.getKey();
            if (name.equals("X-Amz-Signature") || name.equals("User-Agent")) {
                continue;
            }
            if (canonicalQuery.length() > 0) {
                canonicalQuery.append('&');
            }
            canonicalQuery.append(uriEncode(name)).append('=').append(uriEncode(entry.getValue()));
        }
        String canonicalRequest = String.join("\n",
                "GET", "/", canonicalQuery.toString(), "host:" + host, "", "host", EMPTY_PAYLOAD_SHA256);
        String stringToSign = String.join("\n",
                ALGORITHM, amzDate, scope, hex(sha256(canonicalRequest)));
        byte[] key = hmac(signingSecret, shortDate);
        key = hmac(key, region);
        key = hmac(key, SERVICE);
        key = hmac(key, "aws4_request");
        return hex(hmac(key, stringToSign));
    }

    /** RFC 3986 encoding as SigV4 wants it: unreserved characters stay, the rest is %XX. */
    static String uriEncode(String text) {
        StringBuilder out = new StringBuilder();
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            char c = (char) (b & 0xff);
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                    || c == '-' || c == '_' || c == '.' || c == '~') {
                out.append(c);
            } else {
                out.append('%').append(Character.toUpperCase(Character.forDigit((b >> 4) & 0xf, 16)))
                        .append(Character.toUpperCase(Character.forDigit(b & 0xf, 16)));
            }
        }
        return out.toString();
    }

    /** Strict percent-decoding: "+" stays "+" (the signer encodes spaces as %20). */
    private static String percentDecode(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        byte[] out = new byte[bytes.length];
        int n = 0;
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == '%') {
                if (i + 2 >= bytes.length) {
                    throw refused("the token has a malformed percent-escape");
                }
                int hi = Character.digit(bytes[i + 1], 16);
                int lo = Character.digit(bytes[i + 2], 16);
                if (hi < 0 || lo < 0) {
                    throw refused("the token has a malformed percent-escape");
                }
                out[n++] = (byte) ((hi << 4) | lo);
                i += 2;
            } else {
                out[n++] = bytes[i];
            }
        }
        return new String(out, 0, n, StandardCharsets.UTF_8);
    }

    private static byte[] sha256(String text) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
    }

    private static byte[] hmac(byte[] key, String data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(data.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JVM has no HmacSHA256", e);
        }
    }

    private static String hex(byte[] bytes) {
        StringBuilder out = new StringBuilder(bytes.length * 2);
        for (byte b : bytes) {
            out.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
        }
        return out.toString();
    }

    private static String requiredParam(Map<String, String> query, String name) {
        String value = query.get(name);
        if (value == null || value.isEmpty()) {
            throw refused("the token has no " + name);
        }
        return value;
    }

    private static String required(Map<String, ?> options, String name) {
        Object value = options.get(name);
        if (!(value instanceof String) || ((String) value).isEmpty()) {
            throw new IllegalArgumentException("MskIamValidator needs the JAAS option " + name);
        }
        return (String) value;
    }

    private static SaslAuthenticationException refused(String reason) {
        return new SaslAuthenticationException("MSK IAM authentication failed: " + reason);
    }

    /** The session a valid token opens: the access key is the principal, until the token expires. */
    static final class SessionToken implements OAuthBearerToken {
        private final String value;
        private final String principal;
        private final long startMs;
        private final long expiryMs;

        SessionToken(String value, String principal, long startMs, long expiryMs) {
            this.value = value;
            this.principal = principal;
            this.startMs = startMs;
            this.expiryMs = expiryMs;
        }

        @Override
        public String value() {
            return value;
        }

        @Override
        public Set<String> scope() {
            return Set.of();
        }

        /** Kafka's OAuthBearerToken.lifetimeMs is the expiry instant, in ms since the epoch. */
        @Override
        public long lifetimeMs() {
            return expiryMs;
        }

        @Override
        public String principalName() {
            return principal;
        }

        @Override
        public Long startTimeMs() {
            return startMs;
        }
    }
}
