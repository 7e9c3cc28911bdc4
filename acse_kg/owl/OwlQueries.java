/*
 * Asks HermiT exactly the questions acse-kg needs, one JVM for a whole batch (see acse_kg/owl/reasoner.py).
 *
 * Why not HermiT's command line: it classifies every class of the ontology before
 * anything else, and with a registry's defined classes (unions and complements of
 * thresholds, diagnoses and alterations) that is minutes of subsumption tests nobody
 * asked for. Here the TBox is loaded once; each patient gets a reasoner over the TBox
 * and its own few assertions, and only the memberships asked for are decided.
 *
 * Run with the JRE's source launcher (no javac needed):
 *   java -cp HermiT.jar OwlQueries.java
 * Protocol, one command a line on stdin, one answer a line on stdout:
 *   tbox FILE         load the functional-syntax TBox              -> ok
 *   abox FILE         a reasoner over TBox + FILE's axioms         -> consistent | inconsistent
 *   type IND CLASS    is IND entailed to be in CLASS               -> true | false
 *   nottype IND CLASS is IND entailed to be outside CLASS           -> true | false
 *   sub A B           is A entailed to be a subclass of B          -> true | false
 *   sat A B           is the intersection of A and B satisfiable   -> true | false
 *   pairs IN OUT      for each line "P Q R" of IN (named classes): whether P is satisfiable and,
 *                     if it is, whether Q and R are, as a line "p q r" of 0/1 in OUT -> ok N
 *   quit
 * A failure answers "error: message" and the loop goes on.
 */

import java.io.*;
import java.util.*;

import org.semanticweb.HermiT.Configuration;
import org.semanticweb.HermiT.Reasoner;
import org.semanticweb.owlapi.apibinding.OWLManager;
import org.semanticweb.owlapi.model.*;

public class OwlQueries {
    public static void main(String[] args) throws Exception {
        OWLOntologyManager manager = OWLManager.createOWLOntologyManager();
        OWLDataFactory df = manager.getOWLDataFactory();
        Set<OWLAxiom> tbox = new HashSet<OWLAxiom>();
        Reasoner reasoner = null;
        OWLOntology current = null;
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, "UTF-8"));
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8");
        Configuration config = new Configuration();
        config.ignoreUnsupportedDatatypes = true;
        String line;
        while ((line = in.readLine()) != null) {
            String[] w = line.trim().split(" ");
            try {
                switch (w[0]) {
                    case "tbox": {
                        OWLOntology o = manager.loadOntologyFromOntologyDocument(new File(w[1]));
                        tbox = new HashSet<OWLAxiom>(o.getAxioms());
                        manager.removeOntology(o);
                        out.println("ok");
                        break;
                    }
                    case "abox": {
                        if (reasoner != null) reasoner.dispose();
                        if (current != null) manager.removeOntology(current);
                        Set<OWLAxiom> axioms = new HashSet<OWLAxiom>(tbox);
                        if (w.length > 1) {
                            OWLOntology a = manager.loadOntologyFromOntologyDocument(new File(w[1]));
                            axioms.addAll(a.getAxioms());
                            manager.removeOntology(a);
                        }
                        current = manager.createOntology(axioms);
                        reasoner = new Reasoner(config, current);
                        out.println(reasoner.isConsistent() ? "consistent" : "inconsistent");
                        break;
                    }
                    case "type": {
                        OWLAxiom ax = df.getOWLClassAssertionAxiom(cls(df, w[2]), df.getOWLNamedIndividual(IRI.create(w[1])));
                        out.println(reasoner.isEntailed(ax) ? "true" : "false");
                        break;
                    }
                    case "nottype": {
                        OWLAxiom ax = df.getOWLClassAssertionAxiom(df.getOWLObjectComplementOf(cls(df, w[2])),
                                                                   df.getOWLNamedIndividual(IRI.create(w[1])));
                        out.println(reasoner.isEntailed(ax) ? "true" : "false");
                        break;
                    }
                    case "sub": {
                        out.println(reasoner.isEntailed(df.getOWLSubClassOfAxiom(cls(df, w[1]), cls(df, w[2]))) ? "true" : "false");
                        break;
                    }
                    case "sat": {
                        out.println(reasoner.isSatisfiable(df.getOWLObjectIntersectionOf(cls(df, w[1]), cls(df, w[2]))) ? "true" : "false");
                        break;
                    }
                    case "pairs": {
                        // Named classes only: HermiT answers them on the reasoner's own tableau, where an
                        // anonymous expression (A and B) costs a copy of the whole TBox's clauses per question.
                        // Q and R are asked only when P is satisfiable (0 otherwise).
                        int n = 0;
                        try (BufferedReader pin = new BufferedReader(new InputStreamReader(new FileInputStream(w[1]), "UTF-8"));
                             PrintStream pout = new PrintStream(new FileOutputStream(w[2]), false, "UTF-8")) {
                            String q;
                            while ((q = pin.readLine()) != null) {
                                String[] p = q.trim().split(" ");
                                if (p.length != 3) continue;
                                boolean sat = reasoner.isSatisfiable(cls(df, p[0]));
                                boolean q1 = sat && reasoner.isSatisfiable(cls(df, p[1]));
                                boolean r1 = sat && reasoner.isSatisfiable(cls(df, p[2]));
                                pout.println((sat ? "1" : "0") + " " + (q1 ? "1" : "0") + " " + (r1 ? "1" : "0"));
                                n++;
                            }
                        }
                        out.println("ok " + n);
                        break;
                    }
                    case "quit":
                        return;
                    default:
                        out.println("error: unknown command " + w[0]);
                }
            } catch (Throwable e) {
                out.println("error: " + String.valueOf(e).replace('\n', ' '));
            }
        }
    }

    private static OWLClass cls(OWLDataFactory df, String iri) {
        return df.getOWLClass(IRI.create(iri));
    }
}
