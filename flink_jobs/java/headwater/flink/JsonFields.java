package headwater.flink;

import java.io.IOException;
import java.io.StringWriter;
import java.util.HashMap;
import java.util.Map;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonFactory;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonGenerator;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonToken;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * JSON_FIELDS(payload, 'name1,name2,...'): the named top-level fields of a JSON object, read in
 * one streaming pass.
 *
 * <p>Flink's JSON_VALUE parses the whole payload again for every field it extracts; a record with
 * twenty fields was parsed twenty times. This reads it once and returns an array (1-based in SQL):
 *
 * <ul>
 *   <li>[1]: 'object' when the payload is one well-formed JSON object and nothing else, else NULL
 *       (every other element is then NULL too);
 *   <li>[1 + i]: field i's scalar as JSON_VALUE gives it: a string unquoted, a number or boolean as
 *       text; NULL when the field is absent, null, an object or an array;
 *   <li>[1 + n + i]: field i's object or array as compact JSON text, else NULL.
 * </ul>
 *
 * <p>Numbers read as JSON_VALUE reads them (integers exactly, other numbers as a double), so the
 * contract's text rules see the same text as before. A duplicated key keeps its last value, like
 * Python's json module. The function never throws on input: malformed JSON is a NULL marker.
 */
public final class JsonFields extends ScalarFunction {

    private static final JsonFactory FACTORY = new JsonFactory();

    private transient String names;
    private transient Map<String, Integer> index;
    private transient int count;
    // the last record's answer: one expression may call this several times on the same payload
    // (Flink does not share a function call between the places that use its result)
    private transient String lastPayload;
    private transient String[] lastResult;

    public @DataTypeHint("ARRAY<STRING>") String[] eval(String payload, String fieldNames) {
        if (fieldNames == null) {
            return null;
        }
        if (!fieldNames.equals(names)) {
            prepare(fieldNames);
        } else if (payload != null && payload.equals(lastPayload)) {
            return lastResult.clone();
        }
        String[] result = parse(payload);
        lastPayload = payload;
        lastResult = result;
        return result.clone();
    }

    private String[] parse(String payload) {
        String[] out = new String[1 + 2 * count];
        if (payload == null) {
            return out;
        }
        try (JsonParser parser = FACTORY.createParser(payload)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                return new String[out.length];
            }
            JsonToken token;
            while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
                Integer i = index.get(parser.currentName());
                JsonToken value = parser.nextToken();
                if (i == null) {
                    parser.skipChildren(); // still tokenized: malformed content inside is found
                    continue;
                }
                out[1 + i] = scalar(parser, value);
                out[1 + count + i] = value == JsonToken.START_OBJECT || value == JsonToken.START_ARRAY
                        ? nested(parser) : null;
            }
            if (token != JsonToken.END_OBJECT || parser.nextToken() != null) {
                return new String[out.length];
            }
        } catch (IOException | RuntimeException e) {
            return new String[out.length];
        }
        out[0] = "object";
        return out;
    }

    private void prepare(String fieldNames) {
        String[] parts = fieldNames.split(",", -1);
        Map<String, Integer> map = new HashMap<>();
        for (int i = 0; i < parts.length; i++) {
            map.put(parts[i], i);
        }
        index = map;
        count = parts.length;
        names = fieldNames;
        lastPayload = null;
        lastResult = null;
    }

    private static String scalar(JsonParser parser, JsonToken value) throws IOException {
        switch (value) {
            case VALUE_STRING:
                return parser.getText();
            case VALUE_NUMBER_INT:
                return parser.getNumberValue().toString();
            case VALUE_NUMBER_FLOAT:
                return Double.toString(parser.getDoubleValue());
            case VALUE_TRUE:
                return "true";
            case VALUE_FALSE:
                return "false";
            default:
                return null;
        }
    }

    private static String nested(JsonParser parser) throws IOException {
        StringWriter text = new StringWriter();
        try (JsonGenerator generator = FACTORY.createGenerator(text)) {
            generator.copyCurrentStructure(parser);
        }
        return text.toString();
    }
}
