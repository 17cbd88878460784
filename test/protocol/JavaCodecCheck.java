// Reference decoder for test/protocol/java-crosscheck.test.ts: Kafka's own generated message
// classes (kafka-clients on the classpath) read each frame body and write it back.
//
//   java -cp <kafka jars> test/protocol/JavaCodecCheck.java < cases
//
// Input, one case per line:  <id> <apiKey> <version> <request|response> <hex body>
// Output, one line per case: <id> OK <hex of Java's re-encoding>
//                            <id> UNSUPPORTED <why>        (this Kafka version has no such version)
//                            <id> ERR <exception>
import java.io.BufferedOutputStream;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import org.apache.kafka.common.message.ApiMessageType;
import org.apache.kafka.common.protocol.ApiMessage;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.ObjectSerializationCache;

public class JavaCodecCheck {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
        PrintStream out = new PrintStream(new BufferedOutputStream(System.out, 1 << 16), false, StandardCharsets.US_ASCII);
        HexFormat hex = HexFormat.of();
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) continue;
            String[] p = line.split(" ", -1);
            String id = p[0];
            try {
                short key = Short.parseShort(p[1]);
                short version = Short.parseShort(p[2]);
                boolean request = p[3].equals("request");
                byte[] body = p.length > 4 ? hex.parseHex(p[4]) : new byte[0];
                ApiMessageType type;
                try {
                    type = ApiMessageType.fromApiKey(key);
                } catch (RuntimeException e) {
                    out.println(id + " UNSUPPORTED no API key " + key);
                    continue;
                }
                if (version < type.lowestSupportedVersion() || version > type.highestSupportedVersion(true)) {
                    out.println(id + " UNSUPPORTED " + type.name() + " v" + version + " outside "
                        + type.lowestSupportedVersion() + "-" + type.highestSupportedVersion(true));
                    continue;
                }
                ApiMessage msg = request ? type.newRequest() : type.newResponse();
                ByteBuffer buf = ByteBuffer.wrap(body);
                msg.read(new ByteBufferAccessor(buf), version);
                if (buf.hasRemaining()) {
                    out.println(id + " ERR " + buf.remaining() + " bytes left after reading");
                    continue;
                }
                ObjectSerializationCache cache = new ObjectSerializationCache();
                int size = msg.size(cache, version);
                ByteBuffer o = ByteBuffer.allocate(size);
                msg.write(new ByteBufferAccessor(o), cache, version);
                out.println(id + " OK " + hex.formatHex(o.array()));
            } catch (Throwable e) {
                out.println(id + " ERR " + e.getClass().getSimpleName() + ": " + String.valueOf(e.getMessage()).replace('\n', ' '));
            }
        }
        out.flush();
    }
}
