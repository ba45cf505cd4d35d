package headwater.flink;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonFactory;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonToken;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * HW_EVENT_TIME(value, 'field', arrival, max_skew_seconds): the event time a Kafka source stamps on
 * a record for its watermark.
 *
 * <p>The named top-level field of the JSON value, read as the contracts' timestamp form (see
 * {@link UtcTimestamp}), when it is at most {@code max_skew_seconds} after {@code arrival} (the
 * record's Kafka timestamp); otherwise, and for any value that is not such an object, the arrival
 * itself, so the rowtime is never NULL and a broken clock cannot drag the watermark ahead.
 *
 * <p>The source evaluates it for the computed column and again for the watermark, on every record,
 * before the full parse of the Silver path (which validates the whole record and routes a malformed
 * one to quarantine), so it is a scan of the UTF-8 bytes that stops at the field: it matches key
 * bytes and skips other values by their brackets and quotes, without tokenizing them. A JSON parser
 * per record here took as long as the full parse. A record with an escape in a key or in the time
 * is read by the parser instead. The rowtime only drives the watermark, and for every record that
 * passes the full parse this reads the same value; the exceptions: a key that appears twice, where
 * this takes the first occurrence and the parse the last, and malformed text before the field,
 * which the scan does not judge (the record goes to quarantine, stamped with its own time).
 */
public final class EventTime extends ScalarFunction {

    private static final JsonFactory FACTORY = new JsonFactory();
    /** The scan met an escape sequence: the parser decides. */
    private static final long ESCAPED = Long.MIN_VALUE + 1;

    private transient String fieldText;
    private transient byte[] fieldBytes;

    public @DataTypeHint(value = "TIMESTAMP_LTZ(3)", bridgedTo = TimestampData.class) TimestampData eval(
            byte[] value, String field,
            @DataTypeHint(value = "TIMESTAMP_LTZ(3)", bridgedTo = TimestampData.class) TimestampData arrival,
            Integer maxSkewSeconds) {
        if (value == null || field == null || arrival == null || maxSkewSeconds == null) {
            return arrival;
        }
        if (!field.equals(fieldText)) {
            fieldBytes = field.getBytes(StandardCharsets.UTF_8);
            fieldText = field;
        }
        long time = scan(value, fieldBytes);
        if (time == ESCAPED) {
            time = parse(value, field);
        }
        if (time == UtcTimestamp.NONE || time > arrival.getMillisecond() + maxSkewSeconds * 1000L) {
            return arrival;
        }
        return TimestampData.fromEpochMillis(time);
    }

    /**
     * The epoch milliseconds of the top-level string field {@code name} of the JSON object in
     * {@code v}: {@link UtcTimestamp#NONE} when there is none or the text is not an object up to
     * the field, {@link #ESCAPED} when a key before it or its value holds an escape.
     */
    static long scan(byte[] v, byte[] name) {
        int n = v.length;
        int i = skipSpace(v, 0);
        if (i >= n || v[i] != '{') {
            return UtcTimestamp.NONE;
        }
        i++;
        while (true) {
            i = skipSpace(v, i);
            if (i >= n || v[i] != '"') {
                return UtcTimestamp.NONE; // '}': the object ends without the field
            }
            int start = i + 1;
            int end = stringEnd(v, start);
            if (end < 0) {
                return end == -2 ? ESCAPED : UtcTimestamp.NONE;
            }
            boolean wanted = Arrays.equals(v, start, end, name, 0, name.length);
            i = skipSpace(v, end + 1);
            if (i >= n || v[i] != ':') {
                return UtcTimestamp.NONE;
            }
            i = skipSpace(v, i + 1);
            if (i >= n) {
                return UtcTimestamp.NONE;
            }
            if (wanted) {
                if (v[i] != '"') {
                    return UtcTimestamp.NONE;
                }
                int valueEnd = stringEnd(v, i + 1);
                if (valueEnd < 0) {
                    return valueEnd == -2 ? ESCAPED : UtcTimestamp.NONE;
                }
                return UtcTimestamp.millis(v, i + 1, valueEnd - i - 1);
            }
            i = skipValue(v, i);
            if (i < 0) {
                return UtcTimestamp.NONE;
            }
            i = skipSpace(v, i);
            if (i >= n || v[i] != ',') {
                return UtcTimestamp.NONE;
            }
            i++;
        }
    }

    private static int skipSpace(byte[] v, int i) {
        while (i < v.length && (v[i] == ' ' || v[i] == '\n' || v[i] == '\r' || v[i] == '\t')) {
            i++;
        }
        return i;
    }

    /** The index of the quote closing a string whose text starts at {@code i}; -1 if none, -2 at an escape. */
    private static int stringEnd(byte[] v, int i) {
        for (; i < v.length; i++) {
            if (v[i] == '"') {
                return i;
            }
            if (v[i] == '\\') {
                return -2;
            }
        }
        return -1;
    }

    /** The index after the value starting at {@code i} (string, object, array or bare word); -1 if it does not end. */
    private static int skipValue(byte[] v, int i) {
        int n = v.length;
        if (v[i] == '"') {
            for (i++; i < n; i++) {
                if (v[i] == '\\') {
                    i++;
                } else if (v[i] == '"') {
                    return i + 1;
                }
            }
            return -1;
        }
        if (v[i] == '{' || v[i] == '[') {
            int depth = 0;
            boolean inString = false;
            for (; i < n; i++) {
                byte b = v[i];
                if (inString) {
                    if (b == '\\') {
                        i++;
                    } else if (b == '"') {
                        inString = false;
                    }
                } else if (b == '"') {
                    inString = true;
                } else if (b == '{' || b == '[') {
                    depth++;
                } else if ((b == '}' || b == ']') && --depth == 0) {
                    return i + 1;
                }
            }
            return -1;
        }
        int start = i;
        while (i < n && v[i] != ',' && v[i] != '}' && v[i] != ']' && v[i] != ' ' && v[i] != '\n' && v[i] != '\r'
                && v[i] != '\t') {
            i++;
        }
        return i > start ? i : -1;
    }

    /** The field read by a JSON parser, for a record whose keys or time carry escapes. */
    private static long parse(byte[] value, String field) {
        try (JsonParser parser = FACTORY.createParser(value)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                return UtcTimestamp.NONE;
            }
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                boolean wanted = field.equals(parser.currentName());
                JsonToken token = parser.nextToken();
                if (wanted) {
                    return token == JsonToken.VALUE_STRING ? UtcTimestamp.millis(parser.getText()) : UtcTimestamp.NONE;
                }
                parser.skipChildren();
            }
        } catch (IOException | RuntimeException e) {
            return UtcTimestamp.NONE; // malformed: the record keeps its arrival time (and goes to quarantine)
        }
        return UtcTimestamp.NONE;
    }
}
