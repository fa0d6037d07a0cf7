package io.github.portkeeper.bom;

import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.http.PortkeeperHttpClients;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import javax.xml.parsers.DocumentBuilderFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * This module imports portkeeper-bom and declares Portkeeper artifacts without versions: that it
 * compiles and runs shows the BOM imports cleanly. The second test keeps the BOM complete: every
 * module of the build that is deployed must be listed in it.
 */
class BomTest {

    @Test
    void artifactsDeclaredWithoutVersionsResolveThroughTheBom() {
        assertNotNull(PoolConfig.builder().name("bom").build());
        assertNotNull(PortkeeperHttpClients.custom());
        assertNotNull(io.github.portkeeper.rpc.RpcClient.class.getName());
    }

    @Test
    void theBomListsEveryDeployedModule() throws Exception {
        Path root = Path.of(System.getProperty("portkeeper.root", "../..")).toRealPath();
        Document parent = parse(root.resolve("pom.xml"));
        TreeSet<String> deployed = new TreeSet<>();
        for (String module : texts(parent.getDocumentElement(), "modules", "module")) {
            Document pom = parse(root.resolve(module).resolve("pom.xml"));
            Element project = pom.getDocumentElement();
            String artifactId = directText(project, "artifactId");
            String packaging = directText(project, "packaging");
            boolean skipped = texts(project, "properties", "maven.deploy.skip").contains("true");
            if (!skipped && !"portkeeper-bom".equals(artifactId) && !"portkeeper-parent".equals(artifactId)
                    && !"pom".equals(packaging)) {
                deployed.add(artifactId);
            }
        }
        Document bom = parse(root.resolve("bom/pom.xml"));
        TreeSet<String> listed = new TreeSet<>();
        NodeList deps = bom.getElementsByTagName("dependency");
        for (int i = 0; i < deps.getLength(); i++) {
            listed.add(directText((Element) deps.item(i), "artifactId"));
        }
        assertEquals(deployed, listed, "bom/pom.xml must list every deployed module of the build (and nothing else)");
    }

    private static Document parse(Path file) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        return f.newDocumentBuilder().parse(Files.newInputStream(file));
    }

    /** Texts of {@code child} elements under the direct child {@code container} of {@code element}. */
    private static List<String> texts(Element element, String container, String child) {
        List<String> out = new ArrayList<>();
        for (org.w3c.dom.Node n = element.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element && ((Element) n).getTagName().equals(container)) {
                NodeList items = ((Element) n).getElementsByTagName(child);
                for (int i = 0; i < items.getLength(); i++) {
                    out.add(items.item(i).getTextContent().trim());
                }
            }
        }
        return out;
    }

    private static String directText(Element element, String child) {
        for (org.w3c.dom.Node n = element.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element && ((Element) n).getTagName().equals(child)) {
                return n.getTextContent().trim();
            }
        }
        return null;
    }
}
