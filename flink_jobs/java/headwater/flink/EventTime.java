package headwater.flink;

import java.io.IOException;
import java.time.Instant;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonFactory;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonToken;
import org.apache.flink.table.annotation.DataTypeHint;
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
 * <p>It reads the UTF-8 bytes directly and stops at the field: the source evaluates it for the
 * computed column and again for the watermark, before the full parse of the Silver path, which
 * validates the whole record and routes a malformed one to quarantine. The rowtime only drives
 * the watermark, and for every record that passes that parse this reads the same value; the one
 * exception is a key that appears twice, where this takes the first occurrence and the parse the last.
 */
public final class EventTime extends ScalarFunction {

    private static final JsonFactory FACTORY = new JsonFactory();

    public @DataTypeHint("TIMESTAMP_LTZ(3)") Instant eval(
            byte[] value, String field, @DataTypeHint("TIMESTAMP_LTZ(3)") Instant arrival, Integer maxSkewSeconds) {
        Instant time = value == null || field == null ? null : find(value, field);
        if (time == null || arrival == null || maxSkewSeconds == null
                || time.isAfter(arrival.plusSeconds(maxSkewSeconds))) {
            return arrival;
        }
        return time;
    }

    private static Instant find(byte[] value, String field) {
        try (JsonParser parser = FACTORY.createParser(value)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                return null;
            }
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                boolean wanted = field.equals(parser.currentName());
                JsonToken token = parser.nextToken();
                if (wanted) {
                    return token == JsonToken.VALUE_STRING ? UtcTimestamp.parse(parser.getText()) : null;
                }
                parser.skipChildren();
            }
        } catch (IOException | RuntimeException e) {
            return null; // malformed: the record keeps its arrival time (and goes to quarantine)
        }
        return null;
    }
}
